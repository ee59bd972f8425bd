"""Headless Chromium for the report tests: the DOM after scripts ran, as a small tree."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"})
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    # nothing can be fetched: a page that needed the network would render broken
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


@dataclass
class Node:
    """An element of the rendered page."""

    tag: str
    attrs: dict[str, str]
    content: list[Node | str] = field(default_factory=list)
    """Child elements and text, in document order."""

    @property
    def children(self) -> list[Node]:
        return [c for c in self.content if isinstance(c, Node)]

    @property
    def texts(self) -> list[str]:
        return [c for c in self.content if isinstance(c, str)]

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        """Elements with this tag and these attribute values (``class_`` for class)."""
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [
            n
            for n in self.iter()
            if n.tag == tag and all(n.attrs.get(k) == v for k, v in want.items())
        ]

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}> in the rendered page"
        return found[0]

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.content]
        return " ".join(" ".join(parts).split())


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].content.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].content.append(data)


def parse(html: str) -> Node:
    """The page as a tree of Nodes."""
    builder = _Builder()
    builder.feed(html)
    return builder.root


def chromium() -> str:
    """Debian's chromium (make test installs it: scripts/tools.sh)."""
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: make test installs it (scripts/tools.sh)"
    return binary


def rendered(page: Path, fragment: str = "", javascript: bool = True) -> Node:
    """The DOM of ``page`` once loaded and its scripts ran, in headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="grader-chromium-") as profile:
        args = [chromium(), *FLAGS, f"--user-data-dir={profile}"]
        if not javascript:
            args.append("--blink-settings=scriptEnabled=false")
        url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
        proc = subprocess.run(
            [*args, "--dump-dom", url], capture_output=True, text=True, timeout=120
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<body" in proc.stdout, proc.stderr[-2000:]
    return parse(proc.stdout)


def screenshot(page: Path, out: Path, size: str = "1200,1600") -> Path:
    """A PNG of ``page`` as Chromium draws it."""
    with tempfile.TemporaryDirectory(prefix="grader-chromium-") as profile:
        args = [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}"]
        proc = subprocess.run(
            [*args, f"--screenshot={out}", page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0 and out.is_file(), proc.stderr[-2000:]
    return out


def external_urls(root: Node) -> list[str]:
    """Every URL in the page that would leave the machine (anything but a relative link,
    a fragment or a file next to the page)."""
    found = []
    for node in root.iter():
        for key in ("href", "src", "xlink:href", "action", "srcset", "poster", "data"):
            value = node.attrs.get(key, "")
            if value and (":" in value.split("/")[0] or value.startswith("//")):
                found.append(value)
        style = node.attrs.get("style", "") + (" ".join(node.texts) if node.tag == "style" else "")
        if "url(" in style or "@import" in style:
            found.append(style)
    return found

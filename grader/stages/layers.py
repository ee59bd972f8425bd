"""Image waste from the image's layers: history table, ``docker save`` streamed, wasted bytes.

Only the student's layers are counted (those after the base image's own layers). Bytes are
wasted when a file added in one of them is deleted (a ``.wh.`` whiteout) or overwritten in a
later one, when a package manager's cache stays in the image, or when build tools do.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
import tarfile
from dataclasses import dataclass, field
from typing import IO, Any

from grader.facts import LayerRow, Offender, WasteFacts

log = logging.getLogger(__name__)

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
CACHES = (
    ("pip_cache", "root/.cache/pip/*"),
    ("pip_cache", "home/*/.cache/pip/*"),
    ("npm_cache", "root/.npm/*"),
    ("npm_cache", "home/*/.npm/*"),
    ("yarn_cache", "usr/local/share/.cache/yarn/*"),
    ("apt_lists", "var/lib/apt/lists/*"),
    ("apt_archives", "var/cache/apt/archives/*.deb"),
)
"""Package manager caches: (kind, glob over the path in the image)."""
BUILD_TOOLS = (
    ("gcc", "usr/lib/gcc/*"),
    ("gcc", "usr/bin/*gcc*"),
    ("g++", "usr/bin/*g++*"),
    ("make", "usr/bin/make"),
    ("C headers", "usr/include/*"),
    ("python headers", "usr/local/include/python*"),
)
"""Build tools (and dev headers) that a runtime image does not need: (name, glob)."""
CACHE_ROOT = re.compile(
    r"^(root/\.cache/pip|home/[^/]+/\.cache/pip|root/\.npm|home/[^/]+/\.npm"
    r"|usr/local/share/\.cache/yarn|var/lib/apt/lists|var/cache/apt/archives|usr/lib/gcc"
    r"|usr/include|usr/local/include)"
)
NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
SHELL = re.compile(r"^/bin/sh -c\s+")


def instruction_of(created_by: str) -> str:
    """A history entry's ``CreatedBy`` as the instruction the student wrote."""
    text = " ".join(created_by.split())
    if NOP.match(text):
        return NOP.sub("", text)
    if SHELL.match(text):
        return "RUN " + SHELL.sub("", text)
    return text


def history_names(
    history: list[dict[str, Any]], base_entries: int, written: list[str], hidden: str
) -> list[str | None]:
    """Each history entry's instruction (oldest first, as ``history`` is given); the student's
    entries take their Dockerfile text (``written``) when they align one to one; entries whose
    instruction starts with ``hidden`` (the grader's own labels) are None."""
    raw = [instruction_of(str(h.get("CreatedBy") or h.get("created_by") or "")) for h in history]
    names: list[str | None] = [None if n.startswith(hidden) else n for n in raw]
    own = [i for i in range(base_entries, len(names)) if names[i] is not None]
    if written and len(own) == len(written):
        for i, text in zip(own, written, strict=True):
            names[i] = text
    return names


def layer_rows(
    history: list[dict[str, Any]], names: list[str | None], base_entries: int, base: str
) -> list[LayerRow]:
    """The history (oldest first) as table rows, the grader's own entries left out."""
    rows = []
    for i, (entry, name) in enumerate(zip(history, names, strict=True)):
        if name is not None:
            size = int(entry.get("Size") or 0)
            rows.append(LayerRow(name or f"FROM {base}", size, i < base_entries))
    return rows


@dataclass
class LayerContent:
    """What one layer's tar holds: files with their sizes, and what it deletes."""

    files: dict[str, int] = field(default_factory=dict)
    """Regular files added or replaced, by path (no leading ``./``)."""
    deleted: list[str] = field(default_factory=list)
    """Paths deleted (whiteouts)."""
    opaque: list[str] = field(default_factory=list)
    """Folders whose earlier content is hidden (opaque whiteouts)."""


def read_layer(stream: IO[bytes]) -> LayerContent:
    """Read a layer tar sequentially into a ``LayerContent``."""
    content = LayerContent()
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            path = member.name.removeprefix("./").rstrip("/")
            add_member(content, path, member.size if member.isfile() else None)
    return content


def add_member(content: LayerContent, path: str, size: int | None) -> None:
    """Record one member of a layer tar: its path (no leading ``./``) and, for a regular
    file, its size (None for anything else)."""
    folder, _, name = path.rpartition("/")
    if name == OPAQUE:
        content.opaque.append(folder)
    elif name.startswith(WHITEOUT):
        content.deleted.append(f"{folder}/{name[len(WHITEOUT) :]}".lstrip("/"))
    elif size is not None:
        content.files[path] = size


class _Hashing:
    """A reader that hashes what passes through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return "sha256:" + self.digest.hexdigest()


def read_saved_image(stream: IO[bytes], wanted: set[str]) -> tuple[dict[str, LayerContent], Any]:
    """The ``wanted`` layers (by diff id) of a ``docker save`` stream, and the image config.

    Legacy archives (``<id>/layer.tar``) are hashed on the way, since only the digest names
    the layer; OCI archives (``blobs/sha256/<digest>``) name it, so other layers are skipped.
    """
    found: dict[str, LayerContent] = {}
    config: Any = None
    with tarfile.open(fileobj=stream, mode="r|") as outer:
        for member in outer:
            name = member.name
            digest = "sha256:" + name.rsplit("/", 1)[-1]
            if not member.isfile():
                continue
            if name.endswith("/layer.tar") or (name.startswith("blobs/") and digest in wanted):
                reader = _Hashing(outer.extractfile(member))  # type: ignore[arg-type]
                content = read_layer(reader)  # type: ignore[arg-type]
                digest = reader.drain() if name.endswith("/layer.tar") else digest
                if digest in wanted:
                    found[digest] = content
            elif member.size <= 1 << 20 and (name.startswith("blobs/") or _is_config(name)):
                data = _json(outer.extractfile(member))
                config = data if isinstance(data, dict) and "rootfs" in data else config
    return found, config


def _is_config(name: str) -> bool:
    return (
        name.endswith(".json") and "/" not in name and name not in ("manifest.json", "index.json")
    )


def _json(stream: IO[bytes] | None) -> Any:
    try:
        return json.loads(stream.read()) if stream else None
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass
class _Tally:
    offenders: dict[tuple[str, str], Offender] = field(default_factory=dict)

    def add(self, path: str, size: int, kind: str, instruction: str) -> None:
        key = (kind, path)
        old = self.offenders.get(key)
        total = size + (old.size_bytes if old else 0)
        self.offenders[key] = Offender("/" + path, total, kind, instruction)

    def total(self, kinds: tuple[str, ...] | None = None, exclude: tuple[str, ...] = ()) -> int:
        values = self.offenders.values()
        return sum(
            o.size_bytes
            for o in values
            if (kinds is None or o.kind in kinds) and o.kind not in exclude
        )


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/") or folder == ""


def _group(path: str) -> str:
    match = CACHE_ROOT.match(path)
    return match.group(1) if match else path


def _dev_folder(path: str, dev_packages: tuple[str, ...]) -> str | None:
    """``.../node_modules/<name>`` when ``path`` lies in a development dependency's folder."""
    for name in dev_packages:
        marker = f"node_modules/{name}/"
        at = ("/" + path).find("/" + marker)
        if at >= 0:
            return path[: at + len(marker) - 1]
    return None


def waste_of(
    layers: list[tuple[str, LayerContent]], dev_packages: tuple[str, ...] = ()
) -> tuple[int, int, _Tally]:
    """Added bytes, wasted bytes (deleted or overwritten later) and every offender, from the
    counted layers in order (instruction, content); ``dev_packages`` are the devDependencies."""
    alive: dict[str, tuple[int, str]] = {}  # path -> (size, instruction that added it)
    tally = _Tally()
    added = 0
    for instruction, content in layers:
        gone = [p for p in alive for d in content.deleted if _under(p, d)]
        gone += [p for p in alive for d in content.opaque if p.startswith(d + "/")]
        for path in dict.fromkeys(gone):
            size, origin = alive.pop(path)
            top = next((d for d in content.deleted if _under(path, d)), path)
            tally.add(_group(top), size, "deleted", origin)
        for path, size in content.files.items():
            if path in alive:
                old, origin = alive.pop(path)
                tally.add(path, old, "overwritten", origin)
            alive[path] = (size, instruction)
            added += size
    for path, (size, origin) in alive.items():
        kind = next((k for k, glob in CACHES if fnmatch.fnmatch(path, glob)), None)
        tool = next((k for k, glob in BUILD_TOOLS if fnmatch.fnmatch(path, glob)), None)
        if kind is not None and not path.endswith(("/lock", "/partial")):
            tally.add(_group(path), size, kind, origin)
        elif tool is not None:
            tally.add(_group(path), size, f"build_tool:{tool}", origin)
        elif (dev := _dev_folder(path, dev_packages)) is not None:
            tally.add(dev, size, "dev_dependency", origin)
    wasted = tally.total(("deleted", "overwritten"))
    return added, wasted, tally


def summarise(
    rows: list[LayerRow],
    scope: str,
    layers: list[tuple[str, LayerContent]],
    top: int,
    dev_packages: tuple[str, ...] = (),
) -> WasteFacts:
    """The facts of the counted layers: totals and the ``top`` biggest offenders."""
    added, wasted, tally = waste_of(layers, dev_packages)
    caches = tally.total(tuple(k for k, _ in CACHES))
    tools = sum(
        o.size_bytes
        for o in tally.offenders.values()
        if o.kind.startswith("build_tool") or o.kind == "dev_dependency"
    )
    ranked = sorted(tally.offenders.values(), key=lambda o: (-o.size_bytes, o.path))
    return WasteFacts(tuple(rows), scope, True, added, wasted, caches, tools, tuple(ranked[:top]))


def counted_layers(
    diff_ids: list[str], base_ids: list[str] | None, history: list[dict[str, Any]]
) -> tuple[list[str], int]:
    """The diff ids counted against the student and how many history entries are the base's.

    ``history`` is the image config's (oldest first, with ``empty_layer``); without base ids
    every layer counts.
    """
    shared = 0
    for mine, theirs in zip(diff_ids, base_ids or [], strict=False):
        if mine != theirs:
            break
        shared += 1
    entries, layers = 0, 0
    for entry in history:
        if layers >= shared:
            break
        entries += 1
        layers += 0 if entry.get("empty_layer") else 1
    return diff_ids[shared:], entries


def layer_names(config: Any, names: list[str | None], diff_ids: list[str]) -> dict[str, str]:
    """Each layer's instruction: the saved config's history (with ``empty_layer``) aligns the
    diff ids with the history entries."""
    history = config.get("history") if isinstance(config, dict) else None
    if not isinstance(history, list) or len(history) != len(names):
        return {}
    made = [
        n or "?" for entry, n in zip(history, names, strict=True) if not entry.get("empty_layer")
    ]
    return dict(zip(diff_ids, made, strict=False))

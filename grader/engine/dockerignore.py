"""Which files of a folder docker-py sends as a build context, ``.dockerignore`` applied.

A port of docker-py's own matcher (``docker/utils/build.py``: ``PatternMatcher``, ``Pattern``,
``exclude_paths``; ``docker/utils/fnmatch.py``; docker-py 7, Apache License 2.0), for Linux,
with the standard library alone. The head start (``grader.engine.headstart``) needs it before
docker-py is loaded: importing any of docker-py loads requests too (~0.1 s, the very time the
head start saves). Everything else in the grader asks docker-py itself
(``Engine.context_files``); ``tests/unit/test_dockerignore_unit.py`` checks that both give the
same files, pattern by pattern, on a tree made to tell them apart.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

NAME = ".dockerignore"


def read_patterns(root: Path) -> list[str] | None:
    """The patterns of ``root/.dockerignore`` as ``docker.APIClient.build`` reads them (blank
    lines and comments dropped); None when there is none or it is not a readable UTF-8 file."""
    path = root / NAME
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line != "" and line[0] != "#"]


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part and part != "."]


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    """docker-py's ``fnmatch.translate``: ``**`` crosses folders, ``*`` and ``?`` do not."""
    i, n, out = 0, len(pattern), "^"
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out += ".*" if i >= n else "(.*/)?"
            else:
                out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out += "\\["
            else:
                stuff = pattern[i:j].replace("\\", "\\\\")
                i = j + 1
                if stuff[0] == "!":
                    stuff = "^" + stuff[1:]
                elif stuff[0] == "^":
                    stuff = "\\" + stuff
                out += f"[{stuff}]"
        else:
            out += re.escape(c)
    return re.compile(out + "$")


class _Pattern:
    """One line of ``.dockerignore``: ``.`` and ``..`` resolved, ``!`` an exception."""

    def __init__(self, text: str) -> None:
        self.exclusion = text.startswith("!")
        parts = _split((text[1:] if self.exclusion else text).strip())
        i = 0
        while i < len(parts):
            if parts[i] == "..":
                del parts[i]
                if i > 0:
                    del parts[i - 1]
                    i -= 1
            else:
                i += 1
        self.dirs = parts
        self.cleaned = "/".join(parts)

    def match(self, path: str) -> bool:
        return _regex(self.cleaned.lower()).match(path.lower()) is not None


class _Matcher:
    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = [p for p in map(_Pattern, patterns) if p.dirs]
        self.patterns.append(_Pattern("!" + NAME))

    def matches(self, path: str) -> bool:
        matched = False
        parent = os.path.dirname(path)
        parent_dirs = _split(parent)
        for pattern in self.patterns:
            match = pattern.match(path)
            if not match and parent != "" and len(pattern.dirs) <= len(parent_dirs):
                match = pattern.match("/".join(parent_dirs[: len(pattern.dirs)]))
            if match:
                matched = not pattern.exclusion
        return matched

    def walk(self, root: str, current: str) -> Iterator[str]:
        for name in os.listdir(current):
            path = os.path.join(os.path.relpath(current, root), name)
            path = path[2:] if path.startswith("./") else path
            match = self.matches(path)
            if not match:
                yield path
            full = os.path.join(root, path)
            if not os.path.isdir(full) or os.path.islink(full):
                continue
            if match and not any(p.exclusion and p.cleaned.startswith(path) for p in self.patterns):
                continue  # an excluded folder with no exception inside it: not entered
            yield from self.walk(root, full)


def included(root: Path, patterns: Sequence[str], dockerfile: str = "Dockerfile") -> Iterator[str]:
    """The paths under ``root`` (files and folders, relative) that docker-py sends, as
    ``docker.utils.build.exclude_paths`` finds them (in no particular order)."""
    matcher = _Matcher([*patterns, "!" + dockerfile])
    top = os.path.abspath(root)
    return matcher.walk(top, top)

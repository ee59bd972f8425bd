"""An image layer's content read from its overlay2 diff folder on this machine, as its tar lists it.

A local overlay2 engine with native diffs makes a layer's tar from the layer's diff folder
as it is: the walk below lists what that tar would (files in the same order, a hard link's
later names left out, a 0/0 character device as a deletion, an opaque folder as hiding the
earlier content), so ``grader.stages.layers`` counts the same bytes as from ``docker save``,
without the engine streaming the whole image. Symlinks are never followed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import stat
from collections.abc import Iterator
from typing import Any

from grader.stages.layers import OPAQUE, WHITEOUT, LayerContent, add_member


class Unreadable(Exception):
    """The folders cannot be read as they are, or are larger than the budget: use the tars."""


def read_config(path: str, image_id: str, max_bytes: int = 1 << 22) -> Any:
    """The image config (parsed) from its file, checked against the image id (its sha256).

    Raises:
        Unreadable: absent, unreadable, too large, or not this image's config.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise Unreadable(f"image config {path}: {exc}") from exc
    if len(data) > max_bytes or "sha256:" + hashlib.sha256(data).hexdigest() != image_id:
        raise Unreadable(f"image config {path} is not image {image_id}")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unreadable(f"image config {path}: {exc}") from exc


def _sorted(folder: str, prefix: str, limit: int) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """A folder's entries in the layer tar's order (bytewise by name), with their tar paths.

    Raises:
        Unreadable: it holds more than ``limit`` entries.
    """
    with os.scandir(folder) as scan:
        entries = list(itertools.islice(scan, limit + 1))
    if len(entries) > limit:
        raise Unreadable(f"more entries than the budget in {folder}")
    entries.sort(key=lambda e: os.fsencode(e.name))
    return iter([(prefix + e.name, e) for e in entries])


def _opaque(path: str, xattr: str) -> bool:
    try:
        return os.getxattr(path, xattr, follow_symlinks=False) == b"y"
    except OSError:
        return False


class _Walk:
    """One diff folder's walk into a ``LayerContent``, counting entries against a budget."""

    def __init__(self, xattr: str, budget: int) -> None:
        self.xattr = xattr
        self.budget = budget
        self.content = LayerContent()
        self.seen: set[int] = set()  # inodes of multiply-linked files already listed

    def entry(self, path: str, entry: os.DirEntry[str]) -> bool:
        """Record one entry as the tar member(s) it becomes; True for a folder to walk into."""
        self.budget -= 1
        if self.budget < 0:
            raise Unreadable("more entries than the budget")
        info = entry.stat(follow_symlinks=False)
        mode = info.st_mode
        if stat.S_ISCHR(mode) and info.st_rdev == 0:  # a deletion: the tar says .wh.<name>
            folder, slash, name = path.rpartition("/")
            add_member(self.content, f"{folder}{slash}{WHITEOUT}{name}", 0)
        elif stat.S_ISDIR(mode):
            add_member(self.content, path, None)
            if _opaque(entry.path, self.xattr):  # the tar adds <folder>/.wh..wh..opq
                add_member(self.content, f"{path}/{OPAQUE}", 0)
            return True
        elif stat.S_ISREG(mode) and info.st_ino not in self.seen:
            if info.st_nlink > 1:  # its later names are hard link members, without bytes
                self.seen.add(info.st_ino)
            add_member(self.content, path, info.st_size)
        else:  # symlink, device, fifo, socket, or a hard link already listed: no bytes
            add_member(self.content, path, None)
        return False


def read_diff_dir(root: str, xattr: str, budget: int) -> tuple[LayerContent, int]:
    """One layer's content from its diff folder, and the budget left.

    Raises:
        Unreadable: a folder could not be listed, or the budget ran out.
    """
    walk = _Walk(xattr, budget)
    try:
        stack = [_sorted(root, "", walk.budget)]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
            elif walk.entry(*item):
                stack.append(_sorted(item[1].path, item[0] + "/", walk.budget))
    except OSError as exc:
        raise Unreadable(f"layer folder {root}: {exc}") from exc
    return walk.content, walk.budget


def read_layers(dirs: list[str], xattr: str, budget: int) -> list[LayerContent]:
    """The contents of several diff folders, within one budget of entries for them all.

    Raises:
        Unreadable: as ``read_diff_dir``.
    """
    contents = []
    for folder in dirs:
        content, budget = read_diff_dir(folder, xattr, budget)
        contents.append(content)
    return contents

"""Find the lab's folder in a whole repository: when a submission's root holds no Dockerfile,
rank the folders that do by the lab's ``[detect]`` files, then by a name matching the lab
(``tp6bis`` matches ``TP6_bis``, ``TP6-BIS``, ``tp6 bis``), then by depth; a tie is
ambiguous. ``submission.toml``'s ``path = "..."`` chooses outright."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.intake.submission import (
    DECLARATION,
    IGNORED_DIRS,
    SKIPPED_FOLDERS,
    find_dockerfile,
    inside,
    safe_file,
)
from grader.labs.spec import LabSpec

MAX_DEPTH = 5
"""Deepest folder looked at, below the submission's root."""
SKIPPED = IGNORED_DIRS | {"__MACOSX"}


@dataclass(frozen=True)
class Found:
    """The folder to grade, or why there is none."""

    folder: Path | None
    """None when ambiguous or the declared path is not a folder of the submission."""
    rel: str = "."
    """The graded folder, relative to the submission's root."""
    others: tuple[str, ...] = ()
    """Other folders with a Dockerfile (when ambiguous: every candidate, best first)."""
    declared: str = ""
    """``submission.toml``'s ``path``, when given."""


def normalise(name: str) -> str:
    """A folder or lab name without case, spaces, dashes or underscores: ``tp6bis``."""
    return re.sub(r"[\W_]+", "", name.lower())


def candidates(root: Path) -> list[Path]:
    """Folders under ``root`` (not itself) that hold a Dockerfile, links not followed."""
    found: list[Path] = []
    level = [root]
    for _ in range(MAX_DEPTH):
        level = [
            p
            for folder in level
            for p in sorted(folder.iterdir())
            if p.is_dir() and not p.is_symlink() and p.name not in SKIPPED
            and not p.name.startswith(".")
        ]  # fmt: skip
        found.extend(p for p in level if find_dockerfile(p)[0] is not None)
    return found


def rank(root: Path, folder: Path, labs: Sequence[LabSpec]) -> tuple[int, int, int]:
    """Higher is better: detection files present, a name matching a lab, shallowness."""
    detect = max((sum((folder / f).exists() for f in lab.detect_files) for lab in labs), default=0)
    names = {normalise(n) for lab in labs for n in (lab.id, *lab.detect_folder_names)}
    depth = len(folder.relative_to(root).parts)
    return detect, int(normalise(folder.name) in names), -depth


def declared_path(root: Path) -> str:
    """``path`` in ``submission.toml``, when the student gave one."""
    path = safe_file(root, DECLARATION)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ""
    value = data.get("path")
    return value.strip() if isinstance(value, str) else ""


def _named_dockerfile(root: Path) -> bool:
    """An entry of ``root`` named Dockerfile (any case) that is not a usable file: a folder,
    a link. The submission's own mistake, graded there (``dockerfile.present``)."""
    try:
        return any(p.name.lower() == "dockerfile" for p in root.iterdir())
    except OSError:
        return False


def discover(root: Path, labs: Sequence[LabSpec]) -> Found:
    """The folder of ``root`` to grade against one of ``labs``: ``root`` when it holds a
    Dockerfile (or nothing else does), the best-ranked folder otherwise."""
    declared = declared_path(root)
    if declared:
        target = root / declared
        ok = target.is_dir() and inside(root, target)
        rel = target.resolve().relative_to(root.resolve()).as_posix() if ok else declared
        return Found(target if ok else None, rel, declared=declared)
    if find_dockerfile(root)[0] is not None or _named_dockerfile(root):
        return Found(root)  # a Dockerfile at the root, even a broken one, is the student's
    found = candidates(root)
    if not found:
        return Found(root)
    ranked = sorted(found, key=lambda p: rank(root, p, labs), reverse=True)
    rels = tuple(p.relative_to(root).as_posix() for p in ranked)
    if len(ranked) > 1 and rank(root, ranked[0], labs) == rank(root, ranked[1], labs):
        return Found(None, "", rels)
    return Found(ranked[0], rels[0], rels[1:])


def is_repository(folder: Path, labs: Sequence[LabSpec] = ()) -> bool:
    """True when ``folder`` is one student's whole repository, not a class folder: it holds no
    Dockerfile itself but is a git clone or has a ``submission.toml``; or none of its
    sub-folders is a submission by itself (no Dockerfile, ``.git`` or ``submission.toml`` at
    their root, no zip beside them) while Dockerfiles lie deeper, and at most one of its
    sub-folders holds a folder with all the detection files of one of ``labs`` (several would
    be several students' labs)."""
    if not folder.is_dir() or find_dockerfile(folder)[0] is not None:
        return False
    if (folder / ".git").exists() or (folder / DECLARATION).is_file():
        return True
    entries = list(folder.iterdir())
    if any(p.suffix.lower() == ".zip" for p in entries):
        return False
    subs = [p for p in entries if p.is_dir() and p.name not in SKIPPED_FOLDERS]
    markers = (".git", DECLARATION)
    if any(find_dockerfile(s)[0] or any((s / m).exists() for m in markers) for s in subs):
        return False
    found = candidates(folder)
    complete = {
        p.relative_to(folder).parts[0]
        for p in found
        for lab in labs
        if lab.detect_files and all((p / f).exists() for f in lab.detect_files)
    }
    return bool(found) and len(complete) <= 1

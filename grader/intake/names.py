"""Each submission's name (its report folder): its real folder name, unique in the run.

``grade .`` is named after the folder it stands for, not ``.``. Two submissions with the same
name (``a/alice`` and ``b/alice``, or ``alice/`` and ``alice.zip``; compared without case, as
a macOS or Windows disk would) would write to the same report folder: each of them is then
named after its parent folder too (``a_alice``, ``b_alice``; ``class_alice``,
``class_alice.zip``), with ``-2``, ``-3``... added in the run's order if that is not enough.
The same paths always get the same names, and each renamed report says why (``note``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Named:
    """One submission's path and the name its reports are written under."""

    path: Path | None
    """Where it came from (None for a git URL)."""
    name: str
    """The report folder's name, unique in the run."""
    plain: str
    """The name it would have had alone (the folder's, or the archive's without ``.zip``)."""
    shared_with: tuple[str, ...] = ()
    """The other paths that had the same plain name (empty when it was unique)."""


def real_path(path: Path) -> Path:
    """``path`` made absolute and normalised (``.``, ``..`` resolved), links not followed."""
    return Path(os.path.abspath(path))


def plain_name(path: Path) -> str:
    """A submission's own name: its folder's real name (``grade .`` gives the current
    folder's), or its archive's without ``.zip``."""
    real = real_path(path)
    return real.stem if real.suffix.lower() == ".zip" else (real.name or "submission")


def _qualified(path: Path | None, plain: str) -> str:
    """The name with its parent folder's in front, and ``.zip`` kept for an archive."""
    if path is None:
        return plain
    real = real_path(path)
    parent = real.parent.name or "root"
    return f"{parent}_{real.name}"


def name_all(paths: list[Path]) -> list[Named]:
    """A unique name for each path, in the same order (deterministic: the same paths in the
    same order always get the same names)."""
    return name_unique([plain_name(p) for p in paths], list(paths))


def name_unique(plains: list[str], paths: list[Path | None]) -> list[Named]:
    """A unique name for each submission, from its plain name (the intake's: a folder's, a
    Moodle student's, a repository's) and its path, in the same order."""
    groups: dict[str, list[int]] = {}
    for i, plain in enumerate(plains):
        groups.setdefault(plain.casefold(), []).append(i)
    taken = {plains[i].casefold() for i, *rest in groups.values() if not rest}
    named: list[Named] = []
    for i, path in enumerate(paths):
        members = groups[plains[i].casefold()]
        if len(members) == 1:
            named.append(Named(path, plains[i], plains[i]))
            continue
        base = _qualified(path, plains[i])
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name.casefold())
        others = tuple(str(paths[j] or plains[j]) for j in members if j != i)
        named.append(Named(path, name, plains[i], others))
    return named

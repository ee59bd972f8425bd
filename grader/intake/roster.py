"""Lists of students: GitHub Classroom's roster export and the ``--repos`` file of git URLs."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError


@dataclass(frozen=True)
class RosterEntry:
    """One line of ``classroom_roster.csv`` (``identifier, github_username, github_id, name``)."""

    identifier: str
    """What the instructor identified the student by (often an email address)."""
    github_username: str
    name: str

    @property
    def email(self) -> str:
        """The identifier when it is an email address."""
        return self.identifier if "@" in self.identifier else ""


@dataclass(frozen=True)
class RepoLine:
    """One line of a ``--repos`` file: a URL, optionally a name and an email."""

    url: str
    student: str = ""
    email: str = ""


def _rows(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    return [[c.strip() for c in row] for row in csv.reader(text.splitlines()) if any(row)]


def read_roster(path: Path) -> list[RosterEntry]:
    """The students of a Classroom roster (those linked to a GitHub account).

    Raises:
        UsageError: unreadable, or without the ``identifier`` and ``github_username`` columns.
    """
    rows = _rows(path)
    header = [h.lower() for h in rows[0]] if rows else []
    if "identifier" not in header or "github_username" not in header:
        raise UsageError(f"{path}: not a Classroom roster (identifier, github_username, name)")
    found = []
    for row in rows[1:]:
        cells = dict(zip(header, row, strict=False))
        if cells.get("github_username"):
            found.append(
                RosterEntry(cells["identifier"], cells["github_username"], cells.get("name", ""))
            )
    return found


def match(roster: list[RosterEntry], name: str) -> RosterEntry | None:
    """The student whose GitHub username ends ``name`` (``tp6-alice`` or ``alice``), the
    longest username first (``tp6-bob`` is bob's, not ob's)."""
    lowered = name.lower()
    for entry in sorted(roster, key=lambda e: -len(e.github_username)):
        user = entry.github_username.lower()
        if lowered == user or lowered.endswith("-" + user):
            return entry
    return None


def read_repos(path: Path) -> list[RepoLine]:
    """The repositories of a ``--repos`` file: one URL a line, or CSV ``url,student,email``
    (blank lines, ``#`` comments and a ``url,...`` header skipped).

    Raises:
        UsageError: unreadable.
    """
    found = []
    for row in _rows(path):
        if row[0].startswith("#") or row[0].lower() == "url":
            continue
        found.append(RepoLine(*(row + ["", ""])[:3]))
    return found

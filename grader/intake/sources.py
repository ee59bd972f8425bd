"""From what the instructor names (folders, zips, a Moodle export, git URLs, a roster) to the
class's sources (``open_class``), and from one source to a plain folder and an identity
(``arrive``): the rest of the grader sees nothing else."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader.facts.results import Status
from grader.intake import git, moodle, roster, zips
from grader.intake.discover import is_repository
from grader.intake.identity import Identity
from grader.intake.names import Named, name_unique
from grader.intake.outcomes import IntakeFailed
from grader.intake.submission import resolve
from grader.intake.urls import repo_name
from grader.labs.spec import LabSpec

CLASS_UNPACKED_LIMIT = 5_000_000_000
"""Most bytes a whole class's export zip may unpack to."""


@dataclass(frozen=True)
class IntakeOptions:
    """Where the class comes from, besides its PATHs."""

    urls: tuple[str, ...] = ()
    """Git URLs given as PATHs."""
    repos: Path | None = None
    """``--repos``: a file of git URLs (or CSV ``url,student,email``)."""
    roster: Path | None = None
    """``--roster``: GitHub Classroom's ``classroom_roster.csv``."""
    deadline: datetime | None = None
    """``--deadline``: grade each repository's last commit at or before it."""
    cache: Path | None = None
    """Where clones are kept (default: ``git.cache_root()``)."""


@dataclass(frozen=True)
class Source:
    """One submission before intake: where its files are, and who it is."""

    name: str
    """Its name in the reports (its report folder)."""
    path: Path | None = None
    """A folder or a zip (None for a git URL)."""
    identity: Identity = field(default_factory=Identity)
    named: Named | None = None
    """How its name was made unique (``grader.intake.names``); None: its plain name."""


@dataclass(frozen=True)
class Arrival:
    """One submission after intake: a plain folder and who it is."""

    folder: Path
    identity: Identity


def parse_deadline(text: str) -> datetime:
    """``--deadline``: ISO 8601, UTC when it gives no offset.

    Raises:
        ValueError: not an ISO 8601 date.
    """
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _from_path(path: Path) -> Source:
    student = moodle.parse_folder(path.name)
    if student is not None:
        who = Identity("moodle", student=student.name, moodle_id=student.moodle_id)
        return Source(student.short, path, who)
    kind = "zip" if path.suffix.lower() == ".zip" else "folder"
    return Source(zips.submission_name(path), path, Identity(kind))


def _expand(path: Path, stack: contextlib.ExitStack, labs: Sequence[LabSpec]) -> list[Path]:
    if path.is_file() and path.suffix.lower() == ".zip" and moodle.is_export_zip(path):
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="grader-export-")))
        zips.extract_zip(path, tmp, CLASS_UNPACKED_LIMIT)
        path = tmp  # not its top folder: an export of one student is still an export
    if path.is_dir() and moodle.is_export(path):
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="grader-export-")))
        path = moodle.regroup(path, tmp)
        return sorted(p for p in path.iterdir() if p.is_dir() and moodle.parse_folder(p.name))
    return [path] if is_repository(path, labs) else resolve([path])


def open_class(
    paths: list[Path],
    options: IntakeOptions,
    stack: contextlib.ExitStack,
    labs: Sequence[LabSpec] = (),
) -> list[Source]:
    """Every source of the class, in a stable order; an export zip is unpacked into a folder
    that ``stack`` removes. ``labs``: the labs graded, to tell a class folder from a whole
    repository (``discover.is_repository``).

    Raises:
        UsageError: a path, the roster or the repos file cannot be used.
        SubmissionRejected: an unsafe export zip.
    """
    sources = [_from_path(p) for path in paths for p in _expand(path, stack, labs)]
    lines = [roster.RepoLine(url) for url in options.urls]
    lines += roster.read_repos(options.repos) if options.repos else []
    for line in lines:
        who = Identity("git", student=line.student, email=line.email, url=line.url)
        sources.append(Source(repo_name(line.url), None, who))
    if options.roster is not None:
        students = roster.read_roster(options.roster)
        sources = [_with_roster(s, students) for s in sources]
    return _unique(sources)


def _with_roster(source: Source, students: list[roster.RosterEntry]) -> Source:
    entry = roster.match(students, source.name)
    if entry is None:
        return source
    who = source.identity.with_(github_username=entry.github_username)
    if not who.student:
        who = who.with_(student=entry.name, email=entry.email)
    return Source(source.name, source.path, who)


def _unique(sources: list[Source]) -> list[Source]:
    """Sources whose names are unique, compared without case (``grader.intake.names``): each
    has its own report folder, and a renamed one says why."""
    named = name_unique([s.name for s in sources], [s.path for s in sources])
    return [Source(n.name, s.path, s.identity, n) for s, n in zip(sources, named, strict=True)]


def _lone_zip(folder: Path) -> Path | None:
    """The one zip a folder holds and nothing else (macOS noise aside), as a student's Moodle
    folder does when they uploaded a zip."""
    entries = [p for p in folder.iterdir() if p.name not in (".DS_Store", "__MACOSX")]
    if len(entries) == 1 and entries[0].is_file() and entries[0].suffix.lower() == ".zip":
        return entries[0]
    return None


@contextlib.contextmanager
def arrive(source: Source, options: IntakeOptions) -> Iterator[Arrival]:
    """The source's files as a plain folder (temporary ones removed afterwards).

    Raises:
        IntakeFailed: a repository that cannot be cloned, or has no commit before the deadline.
        SubmissionRejected: an unsafe or invalid zip.
    """
    who = source.identity
    if source.path is None:
        with tempfile.TemporaryDirectory(prefix="grader-git-") as tmp:
            dest = Path(tmp) / source.name
            dest.mkdir()
            yield Arrival(dest, _checkout(who, options, dest))
        return
    path = source.path
    lone = _lone_zip(path) if path.is_dir() else None
    with zips.intake(lone or path) as folder:
        if not lone and path.is_dir() and (commit := git.head_of(path)):
            kind = "clone" if who.kind == "folder" else who.kind
            who = who.with_(kind=kind, sha=commit.sha, commit_date=commit.date)
        yield Arrival(folder, who)


def _checkout(who: Identity, options: IntakeOptions, dest: Path) -> Identity:
    try:
        repo = git.mirror(who.url, options.cache or git.cache_root())
        commit = git.pick_commit(repo, options.deadline)
        git.write_tree(repo, commit.sha, dest)
    except git.NoCommitBefore as exc:
        raise IntakeFailed("intake.no_commit", deadline=exc.deadline.isoformat(),
                           first=exc.first) from exc  # fmt: skip
    except git.GitFailed as exc:
        raise IntakeFailed("intake.clone_failed", Status.ERROR, url=who.url,
                           reason=exc.reason) from exc  # fmt: skip
    deadline = options.deadline.isoformat() if options.deadline else ""
    return who.with_(sha=commit.sha, commit_date=commit.date, deadline=deadline,
                     later_commits=commit.later if options.deadline else None)  # fmt: skip

"""Measure the build context Docker is sent: total size, folders, big files, what dominates."""

from __future__ import annotations

import stat
from collections import defaultdict
from pathlib import Path

from grader.engine import Engine
from grader.facts import ContextEntry, ContextFacts, DockerfileFacts, Submission
from grader.intake.submission import safe_file
from grader.stages.build import ignore_patterns

BIG_FILE = 1_000_000
"""Files from this size on are listed one by one."""


def _parents(rel: str) -> list[str]:
    """``a/b/c.txt`` -> ``["a", "a/b"]``."""
    parts = rel.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _largest_first(entry: ContextEntry) -> tuple[int, str]:
    return (-entry.bytes, entry.path)


def measure(root: Path, paths: list[str], has_dockerignore: bool) -> ContextFacts:
    """Facts of a context made of ``paths`` (relative to ``root``, as Docker lists them)."""
    sizes: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    dirs: set[str] = set()
    venvs: set[str] = set()
    files: dict[str, int] = {}
    for rel in paths:
        info = (root / rel).lstat()
        if stat.S_ISDIR(info.st_mode):
            dirs.add(rel)
            continue
        size = info.st_size if stat.S_ISREG(info.st_mode) else 0
        files[rel] = size
        if rel.rsplit("/", 1)[-1] == "pyvenv.cfg" and "/" in rel:
            venvs.add(rel.rsplit("/", 1)[0])
        for parent in _parents(rel):
            dirs.add(parent)
            sizes[parent] += size
            counts[parent] += 1
    entries = [ContextEntry(d, sizes[d], counts[d], True, d in venvs) for d in dirs]
    entries += [ContextEntry(f, s, 1, False) for f, s in files.items() if s >= BIG_FILE]
    top = [ContextEntry(d, sizes[d], counts[d], True, d in venvs) for d in dirs if "/" not in d]
    top += [ContextEntry(f, s, 1, False) for f, s in files.items() if "/" not in f]
    return ContextFacts(
        total_bytes=sum(files.values()),
        files=len(files),
        has_dockerignore=has_dockerignore,
        entries=tuple(sorted(entries, key=_largest_first)),
        top=tuple(sorted(top, key=_largest_first)),
    )


def context_facts(submission: Submission, _usable: DockerfileFacts | None = None) -> ContextFacts:
    """The submission's build context as Docker would send it (``_usable``: the parsed
    Dockerfile, asked for first so that a missing or rejected one is reported as such).

    Raises:
        EngineError: the context cannot be listed.
    """
    assert submission.dockerfile is not None
    dockerfile = str(submission.dockerfile.relative_to(submission.root))
    patterns = ignore_patterns(submission.root)
    paths = Engine.context_files(submission.root, dockerfile, patterns)
    has_ignore = safe_file(submission.root, ".dockerignore") is not None
    return measure(submission.root, paths, has_ignore)

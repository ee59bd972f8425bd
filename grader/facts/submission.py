"""What a submission is before any stage: its folder, files and declared image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Submission:
    """One student's work, located and identified."""

    name: str
    """Folder name, used as the student's id in reports."""
    root: Path
    """Folder holding the files (the build context)."""
    dockerfile: Path | None
    """The Dockerfile found, or None."""
    dockerfile_is_default_name: bool
    """False when found under a fallback name (``dockerfile``, ``Dockerfile.multi``...)."""
    files_hash: str
    """SHA-256 over the submission's relative paths and contents."""


@dataclass(frozen=True)
class Declaration:
    """What a student declares in ``submission.toml``."""

    student: str
    """The student's name, as they write it."""
    image: str
    """The image they pushed, e.g. ``user/repo:tag`` (a registry host is allowed)."""

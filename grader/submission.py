"""Resolve a PATH into submissions; locate each one's Dockerfile; hash its files."""

from __future__ import annotations

import hashlib
import logging
import tomllib
from pathlib import Path

from grader.errors import NotDeclared, UsageError
from grader.facts import Declaration, Submission

log = logging.getLogger(__name__)

DEFAULT_NAME = "Dockerfile"
FALLBACK_NAMES = ("dockerfile", "Dockerfile.multi", "Dockerfile.txt", "DockerFile", "dockerFile")
"""Names students use instead of ``Dockerfile``, tried in this order."""
IGNORED_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv"})
SKIPPED_FOLDERS = frozenset({".git", "__pycache__", ".venv", "node_modules"})
"""Folders of a class folder that are never submissions."""


DECLARATION = "submission.toml"
"""Optional file at a submission's root: ``student = "..."`` and ``image = "user/repo:tag"``."""


def read_declaration(root: Path) -> Declaration:
    """The submission's declaration.

    Raises:
        NotDeclared: no submission.toml, or one without a usable ``image``.
    """
    path = root / DECLARATION
    if not path.is_file():
        raise NotDeclared("no submission.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NotDeclared(f"submission.toml is not valid TOML: {exc}") from exc
    image = data.get("image")
    if not isinstance(image, str) or not image.strip():
        raise NotDeclared('submission.toml has no image = "user/repo:tag"')
    return Declaration(str(data.get("student", "")), image.strip())


def find_dockerfile(root: Path) -> tuple[Path | None, bool]:
    """The submission's Dockerfile and whether it has the default name.

    Falls back to common other names, then to any ``Dockerfile.*`` / ``*.dockerfile``.
    """
    names = {p.name: p for p in root.iterdir() if p.is_file() or p.is_symlink()}
    if DEFAULT_NAME in names and names[DEFAULT_NAME].is_file():
        return names[DEFAULT_NAME], True
    for name in FALLBACK_NAMES:
        if name in names and names[name].is_file():
            return names[name], False
    others = sorted(
        p
        for n, p in names.items()
        if (n.lower().startswith("dockerfile.") or n.lower().endswith(".dockerfile"))
        and n != "Dockerfile.single"  # the single-stage variant for the size bonus
        and p.is_file()
    )
    return (others[0], False) if others else (None, False)


def files_hash(root: Path) -> str:
    """SHA-256 over relative paths and contents (symlinks hashed by target, not followed)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if IGNORED_DIRS.intersection(rel.parts):
            continue
        digest.update(str(rel).encode("utf-8", "surrogateescape") + b"\0")
        if path.is_symlink():
            digest.update(b"->" + str(path.readlink()).encode("utf-8", "surrogateescape"))
        elif path.is_file():
            digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def load_submission(root: Path) -> Submission:
    """Describe one submission folder."""
    root = root.resolve()
    dockerfile, is_default = find_dockerfile(root)
    return Submission(
        name=root.name,
        root=root,
        dockerfile=dockerfile,
        dockerfile_is_default_name=is_default,
        files_hash=files_hash(root),
    )


def _student_folders(folder: Path) -> list[Path]:
    """Sub-folders that may be submissions (not hidden, not tool folders)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and p.name not in SKIPPED_FOLDERS and not p.name.startswith(".")
    )


def is_submission(folder: Path) -> bool:
    """True when ``folder`` looks like one submission rather than a class folder."""
    dockerfile, _ = find_dockerfile(folder)
    return dockerfile is not None or not _student_folders(folder)


def resolve(paths: list[Path]) -> list[Path]:
    """Expand PATH arguments into submission folders, in a stable order.

    A folder with a Dockerfile (or with no sub-folder) is one submission; otherwise each of
    its sub-folders is one (including those without a Dockerfile).

    Raises:
        UsageError: a path does not exist or is not a folder.
    """
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        if not path.is_dir():
            raise UsageError(f"{path}: not a folder (a submission is a folder with a Dockerfile)")
        if is_submission(path):
            found.append(path)
        else:
            found.extend(_student_folders(path))
    return found

"""Resolve a PATH into submissions; locate each one's Dockerfile; hash its files."""

from __future__ import annotations

import hashlib
import json
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


def inside(root: Path, path: Path) -> bool:
    """True when ``path``, links resolved, stays inside ``root``."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def safe_file(root: Path, name: str) -> Path | None:
    """``root/name`` when it is a regular file inside the submission, links included only
    when they point inside it: a link to a host file is never read."""
    path = root / name
    return path if path.is_file() and inside(root, path) else None


def read_dev_dependencies(root: Path, manifest: str) -> tuple[str, ...]:
    """Names in the submission's package.json ``devDependencies`` (none when unreadable)."""
    path = safe_file(root, manifest)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError):
        return ()
    dev = data.get("devDependencies") if isinstance(data, dict) else None
    return tuple(sorted(dev)) if isinstance(dev, dict) else ()


def read_declaration(root: Path) -> Declaration:
    """The submission's declaration.

    Raises:
        NotDeclared: no submission.toml, or one without a usable ``image``.
    """
    path = safe_file(root, DECLARATION)
    if path is None:
        raise NotDeclared("no submission.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise NotDeclared(f"submission.toml is not valid TOML: {exc}") from exc
    image = data.get("image")
    if not isinstance(image, str) or not image.strip():
        raise NotDeclared('submission.toml has no image = "user/repo:tag"')
    return Declaration(str(data.get("student", "")), image.strip())


def declared_identity(root: Path) -> dict[str, str]:
    """``student`` and ``email`` from submission.toml, when the student gave them."""
    path = safe_file(root, DECLARATION)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return {k: str(data[k]) for k in ("student", "email") if isinstance(data.get(k), str)}


def find_dockerfile(root: Path) -> tuple[Path | None, bool]:
    """The submission's Dockerfile and whether it has the default name.

    Falls back to common other names, then to any ``Dockerfile.*`` / ``*.dockerfile``.
    """
    names = {p.name: p for p in root.iterdir() if safe_file(root, p.name)}
    if DEFAULT_NAME in names:
        return names[DEFAULT_NAME], True
    for name in FALLBACK_NAMES:
        if name in names:
            return names[name], False
    others = sorted(
        p
        for n, p in names.items()
        if (n.lower().startswith("dockerfile.") or n.lower().endswith(".dockerfile"))
        and n != "Dockerfile.single"  # the single-stage variant for the size bonus
    )
    return (others[0], False) if others else (None, False)


HASH_LIMIT_BYTES = 1_000_000_000
"""Most bytes of a submission's files hashed; beyond, it has no hash (and is never reused)."""
HASH_LIMIT_FILES = 100_000
"""Most files and folders hashed; beyond, likewise."""
CHUNK = 1 << 20


def files_hash(root: Path) -> str:
    """SHA-256 over relative paths and contents (symlinks hashed by target, not followed),
    each file read in chunks; empty (no hash: graded again every time) for a submission of
    more than ``HASH_LIMIT_BYTES`` or ``HASH_LIMIT_FILES``, whose hashing is not finished."""
    digest = hashlib.sha256()
    budget, count = HASH_LIMIT_BYTES, 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if IGNORED_DIRS.intersection(rel.parts):
            continue
        count += 1
        if count > HASH_LIMIT_FILES:
            return ""
        digest.update(str(rel).encode("utf-8", "surrogateescape") + b"\0")
        if path.is_symlink():
            digest.update(b"->" + str(path.readlink()).encode("utf-8", "surrogateescape"))
        elif path.is_file():
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    budget -= len(chunk)
                    if budget < 0:
                        return ""
                    digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def load_submission(root: Path, name: str | None = None) -> Submission:
    """Describe one submission folder (``name`` defaults to the folder's)."""
    root = root.resolve()
    dockerfile, is_default = find_dockerfile(root)
    return Submission(
        name=name or root.name,
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
    return dockerfile is not None or not (_student_folders(folder) or list(folder.glob("*.zip")))


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
        if path.is_file() and path.suffix.lower() == ".zip":
            found.append(path)
            continue
        if not path.is_dir():
            raise UsageError(f"{path}: not a folder or a .zip (a submission holds a Dockerfile)")
        if is_submission(path):
            found.append(path)
        else:
            found.extend(sorted(_student_folders(path) + list(path.glob("*.zip"))))
    return found

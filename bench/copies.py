"""Temporary copies of submissions: a nonce in the dependency files (cold installs) and the
per-student app-code differences of a generated class."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path

DEPENDENCY_FILES = ("requirements.txt", "package.json")
APP_FILES = ("app.py", "app.js", "index.js")
"""Where a student's app code is (the first one present gets the per-student difference)."""


def nonce() -> str:
    """A short random marker, unique per copy."""
    return secrets.token_hex(6)


def copy_submission(src: Path, dest: Path) -> Path:
    """Copy a submission folder (links kept as links, as the grader reads them)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def mark_dependencies(folder: Path, marker: str) -> list[str]:
    """Make the dependency files differ harmlessly, so pip and npm really run again.

    ``requirements.txt`` gets a comment line; ``package.json`` a ``"//bench-nonce"`` key (npm
    ignores unknown top-level keys and the lockfile does not record it). Returns the files
    changed.
    """
    changed = []
    req = folder / "requirements.txt"
    if req.is_file() and not req.is_symlink():
        text = req.read_text(encoding="utf-8")
        sep = "" if not text or text.endswith("\n") else "\n"
        req.write_text(f"{text}{sep}# bench nonce {marker}\n", encoding="utf-8")
        changed.append(req.name)
    pkg = folder / "package.json"
    if pkg.is_file() and not pkg.is_symlink():
        data = json.loads(pkg.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = {"//bench-nonce": marker, **data}
            pkg.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            changed.append(pkg.name)
    return changed


def app_file(folder: Path) -> Path | None:
    """The file holding the app's code, if the submission has one."""
    for name in APP_FILES:
        path = folder / name
        if path.is_file() and not path.is_symlink():
            return path
    return None


def mark_app(folder: Path, student: str) -> Path | None:
    """Give the app code a per-student difference (a comment naming the student)."""
    path = app_file(folder)
    if path is None:
        return None
    comment = "#" if path.suffix == ".py" else "//"
    with path.open("a", encoding="utf-8") as f:
        f.write(f"\n{comment} written by {student}\n")
    return path


def student_name(index: int, salt: str) -> str:
    """The folder name of generated student ``index`` (``salt`` keeps runs apart)."""
    return f"student-{index + 1:02d}-{salt}"


def generate_class(sources: Sequence[Path], dest: Path, size: int, salt: str) -> list[Path]:
    """A class folder of ``size`` students, cycling over ``sources``, each app code different.

    Student ``i`` is ``sources[i % len(sources)]`` with a comment naming the student added to
    its app code, so every image differs in its app layer while the dependency layers stay
    shared, as in a real class. A source without app code is copied unchanged (it is graded
    for what it is: a build or detection failure).
    """
    if not sources:
        raise ValueError("no source submission to generate a class from")
    dest.mkdir(parents=True, exist_ok=True)
    students = []
    for i in range(size):
        name = student_name(i, salt)
        folder = copy_submission(sources[i % len(sources)], dest / name)
        mark_app(folder, name)
        students.append(folder)
    return students

"""The root conftest.py: ``pytest checks/ --submission ...`` from a clone before any install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

COPIED = ("grader", "checks", "conftest.py", "pyproject.toml", "tests/conftest.py")


def _clone(repo_root: Path, into: Path) -> Path:
    """What a clone holds of the grader (its sources, no bytecode), and one bundled submission."""
    for name in COPIED:
        source = repo_root / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    shutil.copytree(repo_root / "submissions" / "tp6-ok", into / "my-tp6")
    return into


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest as in a clone with nothing installed: no plugin comes from an entry point."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", *args, "-k", "dockerfile", "-q", "-p", "no:randomly"]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("path", [("checks/",), ()], ids=["checks", "no-path"])
def test_a_clone_grades_a_submission_before_any_install(
    repo_root: Path, tmp_path: Path, path: tuple[str, ...]
) -> None:
    clone = _clone(repo_root, tmp_path)
    done = _pytest(clone, *path, "--submission", "my-tp6", "--lab", "tp6")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed" in done.stdout
    assert "my-tp6 (tp6)" in done.stdout


def test_without_the_root_conftest_the_clone_knows_no_grading_option(
    repo_root: Path, tmp_path: Path
) -> None:
    clone = _clone(repo_root, tmp_path)
    (clone / "conftest.py").unlink()
    done = _pytest(clone, "checks/", "--submission", "my-tp6", "--lab", "tp6")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "unrecognized arguments: --submission" in done.stderr

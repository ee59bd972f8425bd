"""A student runs the rubric with pytest on their own folder; failures read as feedback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=cwd,
    )


def test_failing_check_reads_as_feedback_not_traceback(
    repo_root: Path, leftovers: Callable[[], Any]
) -> None:
    proc = _pytest(
        ["--submission", "submissions/tp6-wrong-text", "--lab", "tp6", "--lang", "en"], repo_root
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    out = proc.stdout
    assert "1 failed, 20 passed, 1 skipped" in out  # the skip: image.healthcheck, advice
    assert "SKIPPED" in out and "advice (no points): " in out
    assert "advice image.healthcheck: " in out
    assert "tp6-wrong-text (tp6): 18/20, 1 check(s) to fix, 1 advice" in out
    assert "test_root_text[tp6-wrong-text]" in out
    assert 'expected: a page containing "Hello Docker!"' in out
    assert 'found: "Hello World!"' in out
    assert "Traceback" not in out and "def test_" not in out
    assert leftovers() == ([], [])


def test_installed_plugin_grades_the_current_folder(
    repo_root: Path, leftovers: Callable[[], Any], tmp_path: Path
) -> None:
    """In the student's own repository: `pytest --lab tp6`, no conftest, no path."""
    student = tmp_path / "my-repo"
    src = repo_root / "submissions" / "tp6-root-user"
    student.mkdir()
    for f in src.iterdir():
        (student / f.name).write_bytes(f.read_bytes())
    proc = _pytest(["--lab", "tp6"], student)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "1 failed, 20 passed, 1 skipped" in proc.stdout  # the skip: advice (HEALTHCHECK)
    assert "test_user_non_root[my-repo]" in proc.stdout
    assert "Le conteneur tourne en root." in proc.stdout  # the lab's language by default
    assert leftovers() == ([], [])


def test_grader_own_tests_are_not_collected_as_the_rubric(repo_root: Path) -> None:
    proc = _pytest(
        ["--submission", "submissions/tp6-no-dockerfile", "--lab", "tp6", "--co", "-q"], repo_root
    )
    assert proc.returncode == 0, proc.stdout
    collected = [line for line in proc.stdout.splitlines() if "::" in line]
    assert len(collected) == 22
    assert all(line.startswith("checks/") for line in collected)


def test_advice_alone_does_not_fail_a_students_run(
    repo_root: Path, leftovers: Callable[[], Any]
) -> None:
    """Only advice not followed (no HEALTHCHECK, worth no points): the run passes, and says so."""
    args = ["--submission", "submissions/tp6-renamed-dockerfile", "--lab", "tp6", "--lang", "en"]
    proc = _pytest(["-ra", *args], repo_root)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "21 passed, 1 skipped" in proc.stdout
    assert "advice (no points): " in proc.stdout and "HEALTHCHECK" in proc.stdout
    assert "tp6-renamed-dockerfile (tp6): 20/20, 0 check(s) to fix, 1 advice" in proc.stdout
    assert leftovers() == ([], [])

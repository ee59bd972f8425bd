"""Statuses on real submissions (issue 16): a broken build blocks what needs the image, the
Dockerfile still answers for what it states, and a student's pytest run skips what did not run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.cli.entry import main

pytestmark = [pytest.mark.docker, pytest.mark.slow]
STATED = ("dockerfile.label_maintainer", "image.user_non_root", "image.entrypoint_exec_form")


def _grade(repo_root: Path, out: Path, *lab: str) -> dict[str, Any]:
    code = main(["submissions/tp6-syntax-error", "--output", str(out), "--force", *lab])
    assert code in (0, 1)
    text = (out / "tp6-syntax-error" / "report.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_a_broken_build_judges_what_the_dockerfile_states_and_blocks_the_rest(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo_root)
    data = _grade(repo_root, tmp_path / "default", "--lang", "en")
    checks = {c["id"]: c for c in data["checks"]}
    assert data["schema_version"] == 2
    assert checks["build.succeeds"]["status"] == "failed"
    for check_id in STATED:  # LABEL maintainer="Martin Camille", USER 1000, ENTRYPOINT [...]
        assert checks[check_id]["status"] == "passed", check_id
        assert "Judged from the Dockerfile: the image did not build." in checks[check_id]["message"]
    blocked = {i for i, c in checks.items() if c["status"] == "not_run"}
    assert {"run.starts", "http.root_status", "image.healthcheck"} <= blocked
    assert {checks[i]["blocked_by"] for i in blocked} == {"build.succeeds"}
    assert not any(c["status"] == "failed" and c["max_score"] == 0 for c in checks.values())
    assert data["score"] == 11
    md = (tmp_path / "default" / "tp6-syntax-error" / "report.md").read_text(encoding="utf-8")
    heading = f"Not evaluated because the image does not build: {len(blocked)} checks, 7 points"
    assert md.count(heading) == 1
    assert leftovers() == ([], [])


def test_a_lab_may_leave_those_checks_not_run(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo_root)
    text = (repo_root / "grader/labs/tp6.toml").read_text(encoding="utf-8")
    lab = tmp_path / "tp6-not-run.toml"
    lab.write_text(text.replace('on_build_failure = "dockerfile"', 'on_build_failure = "not_run"'))
    data = _grade(repo_root, tmp_path / "strict", "--lab", str(lab))
    checks = {c["id"]: c for c in data["checks"]}
    for check_id in STATED:
        assert (checks[check_id]["status"], checks[check_id]["blocked_by"]) == (
            "not_run",
            "build.succeeds",
        )
    assert data["score"] == 6
    assert leftovers() == ([], [])


def test_a_students_pytest_run_skips_checks_not_run_instead_of_erroring(
    repo_root: Path, leftovers: Callable[[], Any]
) -> None:
    args = ["--submission", "submissions/tp6-syntax-error", "--lab", "tp6", "--lang", "en"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfs", *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=repo_root,
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    out = proc.stdout
    assert "1 failed, 11 passed, 10 skipped" in out  # no "error": nothing fails at setup
    assert out.count("not run (blocked by build.succeeds): Not run: the image does not build.") == 9
    assert "advice (no points): hadolint" in out
    assert "FAILED checks/test_build.py::test_succeeds[tp6-syntax-error]" in out
    assert leftovers() == ([], [])

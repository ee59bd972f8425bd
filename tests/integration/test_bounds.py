"""Time bounds: a hanging build and a silent app are graded as such within their bounds."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.cli.entry import main
from grader.engine import Engine, cgroups
from tests.integration.conftest import tp6_lab_with

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _student(repo_root: Path, tmp_path: Path, name: str, dockerfile: str) -> Path:
    folder = tmp_path / "class" / name
    shutil.copytree(repo_root / "submissions" / "tp6-ok", folder)
    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    return folder


def _statuses(out: Path, name: str) -> dict[str, str]:
    report = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return {c["id"]: c["status"] for c in report["checks"]}


def test_hanging_build_and_silent_app_are_bounded(
    repo_root: Path, tmp_path: Path, engine: Engine, leftovers: Callable[[], Any]
) -> None:
    nonce = uuid.uuid4().hex[:12]  # tells this run's build container from any other's
    _student(repo_root, tmp_path, "hangs", f"FROM python:3.11-slim\nRUN sleep 600 # {nonce}\n")
    _student(
        repo_root,
        tmp_path,
        "silent",
        'FROM python:3.11-slim\nLABEL maintainer="A B"\nUSER 1000\nENTRYPOINT ["sleep", "600"]\n',
    )
    out = tmp_path / "reports"
    started = time.monotonic()
    code = main(
        [str(tmp_path / "class"), "--lab", "tp6", "--output", str(out), "--lang", "en"]
        + ["--build-timeout", "4", "--start-timeout", "3"]
    )
    elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 60, elapsed
    hangs = _statuses(out, "hangs")
    assert hangs["build.succeeds"] == "failed" and hangs["run.starts"] == "not_run"
    report = json.loads((out / "hangs" / "report.json").read_text(encoding="utf-8"))
    build = next(c for c in report["checks"] if c["id"] == "build.succeeds")
    assert "still running after 4 s" in build["message"]
    silent = _statuses(out, "silent")
    assert silent["run.starts"] == "passed" and silent["http.root_status"] == "failed"
    report = json.loads((out / "silent" / "report.json").read_text(encoding="utf-8"))
    http = next(c for c in report["checks"] if c["id"] == "http.root_status")
    assert "nothing listens" in http["message"].lower()
    assert leftovers() == ([], [])
    running = engine.api.containers(filters={"ancestor": "python:3.11-slim"})
    assert not [c for c in running if nonce in c.get("Command", "")]
    # the cancelled build's cgroup went too, once the engine had removed its RUN container
    assert not list(cgroups.CGROUP_FS.glob(f"*/{cgroups.ROOT}/p{os.getpid()}-*/*"))


def test_whole_submission_bound_and_context_cap_from_a_lab_file(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any]
) -> None:
    slow = _student(
        repo_root, tmp_path, "slow", 'FROM python:3.11-slim\nRUN sleep 30\nCMD ["sleep", "9"]\n'
    )
    big = _student(
        repo_root, tmp_path, "big", (repo_root / "submissions/tp6-ok/Dockerfile").read_text()
    )
    (big / "dataset.bin").write_bytes(b"\0" * 3_000_000)
    # no pip install here: a cold install (fresh machine) would outlast the 6 s bound, and
    # what this student shows is only that .dockerignore keeps the context under the cap
    offline = 'FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nCMD ["sleep", "9"]\n'
    small_ignored = _student(repo_root, tmp_path, "ignored", offline)
    (small_ignored / "dataset.bin").write_bytes(b"\0" * 3_000_000)
    (small_ignored / ".dockerignore").write_text("dataset.bin\n")
    del slow
    lab = tp6_lab_with(repo_root, tmp_path, "context_limit_bytes = 1000000")
    out = tmp_path / "reports"
    started = time.monotonic()
    code = main(
        [str(tmp_path / "class"), "--lab", str(lab), "--output", str(out), "--lang", "en"]
        + ["--submission-timeout", "6"]
    )
    assert code == 0
    assert time.monotonic() - started < 90
    slow_report = json.loads((out / "slow" / "report.json").read_text(encoding="utf-8"))
    by_id = {c["id"]: c for c in slow_report["checks"]}
    assert "still running after 6 s" in by_id["build.succeeds"]["message"]
    assert by_id["run.starts"]["status"] == "not_run"
    big_statuses = _statuses(out, "big")
    assert big_statuses["build.succeeds"] == "failed"
    big_report = json.loads((out / "big" / "report.json").read_text(encoding="utf-8"))
    build = next(c for c in big_report["checks"] if c["id"] == "build.succeeds")
    assert "more than the 1 MB allowed" in build["message"] and ".dockerignore" in build["message"]
    assert _statuses(out, "ignored")["build.succeeds"] == "passed"
    assert leftovers() == ([], [])

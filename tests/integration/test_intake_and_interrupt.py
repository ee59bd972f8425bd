"""Zipped submissions, refused archives, Ctrl-C / SIGTERM mid-class and --resume, for real."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.cli.entry import main

pytestmark = [pytest.mark.docker, pytest.mark.slow]
BIN = Path(sys.executable).parent


def _zip_folder(folder: Path, archive: Path, prefix: str) -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"{prefix}/{path.relative_to(folder)}")


def _report(out: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return data


def _grader_temp_dirs() -> set[str]:
    # batch.intake's prefix (other tools on the machine may use grader-* too)
    return {p.name for p in Path(tempfile.gettempdir()).glob("grader-zip-*")}


def test_a_class_of_zips(repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any]) -> None:
    klass = tmp_path / "export"
    klass.mkdir()
    _zip_folder(repo_root / "submissions" / "tp6-ok", klass / "alice.zip", "my-tp6")
    canary = tmp_path / "canary.txt"
    with zipfile.ZipFile(klass / "mallory.zip", "w") as zf:
        zf.writestr("Dockerfile", "FROM python:3.11-slim\n")
        zf.writestr("../canary.txt", "pwned")
    (klass / "bob.zip").write_bytes(b"this is not a zip")
    before = _grader_temp_dirs()
    out = tmp_path / "reports"
    assert main([str(klass), "--lab", "tp6", "--output", str(out), "--lang", "en"]) == 0
    assert _report(out, "alice")["score"] == 20
    mallory = _report(out, "mallory")
    assert mallory["score"] == 0
    statuses = [c["status"] for c in mallory["checks"]]  # the first fails, it blocks the rest
    assert statuses[0] == "failed" and set(statuses[1:]) == {"not_run"}
    assert "outside the submission" in mallory["checks"][0]["message"]
    assert "not a valid zip" in _report(out, "bob")["checks"][0]["message"]
    assert not canary.exists()
    assert _grader_temp_dirs() <= before  # extraction folders removed
    assert leftovers() == ([], [])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_mid_class_leaves_nothing_and_resume_completes(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any], sig: signal.Signals
) -> None:
    klass = tmp_path / "class"
    for name in ("s1", "s2", "s3", "s4"):
        shutil.copytree(repo_root / "submissions" / "tp6-ok", klass / name)
    out = tmp_path / "reports"
    command = [str(BIN / "grade"), str(klass), "--lab", "tp6", "--output", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # s1 graded: s2 is under way
    assert first.startswith("s1 ")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert leftovers() == ([], [])
    done = sorted(p.parent.name for p in out.glob("*/report.json"))
    assert "s1" in done and len(done) < 4
    for name in done:  # every report there is complete (written atomically)
        assert _report(out, name)["score"] == 20
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no half-written temp file
    again = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    reused = [line for line in again.stdout.splitlines() if "(0.0 s)" in line]
    assert [line.split()[0] for line in reused] == done
    assert sorted(p.parent.name for p in out.glob("*/report.json")) == ["s1", "s2", "s3", "s4"]
    assert leftovers() == ([], [])

"""No wasted work across runs, for real: the grader keeps the student's layers as the build
cache (only its own label steps go), and an unchanged report is reused even when a registry
outside this machine did not answer."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.cli.entry import main
from grader.engine import Engine

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _step_outcome(build_log: str, instruction: str) -> list[str]:
    """The lines the classic builder printed for the step whose instruction starts as given."""
    steps = re.split(r"^(?=Step \d+/\d+ : )", build_log, flags=re.MULTILINE)
    found = [s for s in steps if s.split(" : ", 1)[-1].startswith(instruction)]
    assert len(found) == 1, build_log
    return found[0].splitlines()


def _buildkit_outcome(build_log: str, instruction: str) -> list[str]:
    """The lines BuildKit printed for the step whose instruction starts as given."""
    header = re.search(rf"^#(\d+) \[[^\]]*\] {re.escape(instruction)}", build_log, re.M)
    assert header is not None, build_log
    return [ln for ln in build_log.splitlines() if ln.startswith(f"#{header.group(1)} ")]


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_a_second_run_builds_an_unchanged_submission_from_the_cache(
    builder: str,
    repo_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    engine: Engine,
    leftovers: Callable[[], Any],
) -> None:
    sub = tmp_path / "class" / "alice"
    shutil.copytree(repo_root / "submissions" / "tp6-ok", sub)
    requirements = sub / "requirements.txt"  # a layer no earlier build made: pip must run
    requirements.write_text(f"# {uuid.uuid4().hex}\n{requirements.read_text()}", encoding="utf-8")
    out = tmp_path / "reports"
    args = [str(sub.parent), "--output", str(out), "--lab", "tp6", "--force"]
    student_image = None
    try:
        logs = []
        for _ in range(2):
            assert main([*args, "--builder", builder]) == 0
            capsys.readouterr()
            logs.append((out / "alice" / "build.log").read_text(encoding="utf-8"))
            assert json.loads((out / "alice" / "report.json").read_text())["score"] == 20
            assert leftovers() == ([], [])  # the grader's images went, each time
        if builder == "buildkit":  # the cache is BuildKit's own, not images
            first, second = (_buildkit_outcome(log, "RUN pip install") for log in logs)
            assert not any(line.endswith(" CACHED") for line in first)
            assert second[-1].endswith(" CACHED")
            return
        first, second = (_step_outcome(log, "RUN pip install") for log in logs)
        assert " ---> Using cache" not in first
        assert " ---> Using cache" in second
        # the student's last layer, under the grader's label steps, is what stays
        ids = re.findall(r"^ ---> ([0-9a-f]{12})$", logs[1].split("LABEL org.docker-lab")[0], re.M)
        student_image = ids[-1]
        assert engine.image_present(student_image)
    finally:
        if student_image:  # this test's own layers (its nonce): no one else can use them
            engine.api.remove_image(student_image, force=True, noprune=False)


def test_a_report_whose_only_errors_are_an_unreachable_registry_is_reused(
    repo_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    leftovers: Callable[[], Any],
) -> None:
    sub = tmp_path / "class" / "bob"
    shutil.copytree(repo_root / "submissions" / "tp6bis-ok", sub)
    out = tmp_path / "reports"
    args = [str(sub.parent), "--output", str(out), "--lab", "tp6bis", "--lang", "en"]
    assert main(args) == 0
    report = json.loads((out / "bob" / "report.json").read_text(encoding="utf-8"))
    errors = {c["id"]: c.get("cause") for c in report["checks"] if c["status"] == "error"}
    assert errors == {"registry.pushed": "registry", "registry.runs": "registry"}  # offline
    capsys.readouterr()
    assert main(args) == 0
    assert "reused" in capsys.readouterr().out
    assert main([*args, "--force"]) == 0
    assert "reused" not in capsys.readouterr().out
    assert leftovers() == ([], [])

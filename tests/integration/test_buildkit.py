"""BuildKit on the real engine: what the student's ``docker build`` builds, the build's log read
back, a timeout that stops the RUN step in the engine, RUN steps under the cgroup parent, and
the classic builder's honest refusal."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from grader.dockerfile.parse import parse_dockerfile
from grader.engine import Engine
from grader.engine.bounds import BuildLimits
from grader.errors import BuildFailed, BuildTimedOut, ClassicBuilderCannot
from grader.facts import Submission
from grader.intake.submission import load_submission
from grader.labels import new_run_labels
from grader.stages.build import Bounds, build_image

pytestmark = [pytest.mark.docker, pytest.mark.slow]
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _submission(folder: Path, dockerfile: str) -> Submission:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    return load_submission(folder)


def _build(engine: Engine, sub: Submission, builder: str, timeout_s: float = 300) -> str:
    assert sub.dockerfile is not None
    facts = parse_dockerfile(sub.dockerfile)
    bounds = Bounds(BuildLimits())
    built = build_image(
        engine, sub, facts, new_run_labels(), timeout_s, 64_000, bounds, builder=builder
    )
    return built.image_id


def test_buildkit_syntax_builds_and_the_classic_builder_says_it_cannot(
    engine: Engine, tmp_path: Path
) -> None:
    sub = _submission(
        tmp_path / "cache-mount",
        "FROM python:3.11-slim\nCOPY --chmod=600 <<EOF /secret.txt\nhello\nEOF\n"
        f"RUN --mount=type=cache,target=/var/cache/x echo {uuid.uuid4().hex} > /var/cache/x/n\n",
    )
    image = _build(engine, sub, "auto")
    try:
        assert engine.inspect_image(image)["Id"] == image
    finally:
        engine.remove_image(image)
    with pytest.raises(ClassicBuilderCannot) as refused:
        _build(engine, sub, "classic")
    assert refused.value.features == ("COPY --chmod (line 2)", "COPY <<heredoc (line 2)",
                                      "RUN --mount (line 5)")  # fmt: skip


def test_a_failing_heredoc_is_reported_at_its_line(engine: Engine, tmp_path: Path) -> None:
    sub = _submission(
        tmp_path / "heredoc",
        f"FROM python:3.11-slim AS base\nRUN echo {uuid.uuid4().hex}\nFROM base\n"
        'WORKDIR /x\nRUN <<EOT\necho one\nexit 3\nEOT\nCMD ["python3"]\n',
    )
    with pytest.raises(BuildFailed) as failed:
        _build(engine, sub, "buildkit")
    assert failed.value.step_line == 5
    assert failed.value.step == "RUN <<EOT (echo one...)"
    assert "exit code: 3" in failed.value.error


def test_a_timeout_stops_the_run_step_in_the_engine(engine: Engine, tmp_path: Path) -> None:
    marker = f"grader-timeout-{uuid.uuid4().hex[:12]}"
    sub = _submission(tmp_path / "slow", f"FROM python:3.11-slim\nRUN sleep 300 # {marker}\n")
    started = time.monotonic()
    with pytest.raises(BuildTimedOut):
        _build(engine, sub, "buildkit", timeout_s=8)
    assert time.monotonic() - started < 30
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the engine cancels the step when the session ends
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
        if marker not in ps.stdout:
            break
        time.sleep(0.5)
    assert marker not in ps.stdout


def test_run_steps_run_under_the_build_s_own_cgroup(engine: Engine, tmp_path: Path) -> None:
    """BuildKit's RUN steps run each in a group of their own under the grader's shared parent
    (``grader.engine.runbounds``), bounded by this build's limits as they run; the parent is
    gone afterwards."""
    sub = _submission(
        tmp_path / "cgroup",
        "FROM python:3.11-slim\nRUN cat /proc/self/cgroup /sys/fs/cgroup/pids/pids.max"
        f" && echo {uuid.uuid4().hex}\n",
    )
    assert sub.dockerfile is not None
    facts = parse_dockerfile(sub.dockerfile)
    built = build_image(
        engine, sub, facts, new_run_labels(), 300, 64_000, Bounds(BuildLimits(1 << 30, 512, 1)),
        builder="buildkit",
    )  # fmt: skip
    engine.remove_image(built.image_id)
    assert built.builder == "buildkit"
    groups = re.findall(r":memory:(/docker-lab-grader/bk-[^/\s]+)/buildkit/\w+", built.log)
    assert groups, built.log
    assert re.search(r"^#\d+ [\d.]+ 512$", built.log, re.M), built.log  # its own pids.max
    assert not any((CGROUP_ROOT / "memory" / g.lstrip("/")).exists() for g in groups)

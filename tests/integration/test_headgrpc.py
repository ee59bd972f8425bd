"""The BuildKit build sent ahead (grader/engine/headgrpc.py) on the real engine: bounded as the
engine's own BuildKit builds are, and cancelled, its image removed, when the pipeline never
asks for it. Its adoption with the verdicts of a class run is tested beside the classic
builder's, in test_headstart.py."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.cli.entry import main
from grader.engine import Engine, headgrpc
from grader.engine.runbounds import buildkit_parent
from grader.labels import LABEL_RUN, new_run_labels
from tests.integration.conftest import (
    submission_copy,
    tp6_lab_with,
    written_report,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]
GOLDENS = Path(__file__).parent / "goldens"


def _sent(tmp_path: Path, folder: Path, labels: dict[str, str]) -> headgrpc.GrpcHead:
    head = headgrpc.begin([folder], tmp_path / "out", True, [], labels)
    assert isinstance(head, headgrpc.GrpcHead), head
    assert head.decided.wait(30)
    assert head.declined is None, head.declined
    return head


def test_the_build_sent_ahead_runs_its_steps_under_the_grader_s_cgroup_parent(
    repo_root: Path, tmp_path: Path, engine: Engine
) -> None:
    folder = submission_copy(repo_root, tmp_path, "tp6-ok")
    # a new dependency layer: its RUN step really runs (bounded), not taken from the cache
    requirements = folder / "requirements.txt"
    requirements.write_text(requirements.read_text() + f"# {secrets.token_hex(8)}\n")
    labels = new_run_labels()
    head = _sent(tmp_path, folder, labels)
    assert head.take()
    try:
        # the engine reads the context first (grade loads itself after that): long before
        # the pip install ends
        assert head.read.wait(30) and not head.finished.is_set()
        assert head.finished.wait(300)
        assert isinstance(head.outcome, tuple), head.outcome
        image, error = head.outcome
        assert error is None and image is not None
        assert head.runs is not None
        assert head.runs.parent == buildkit_parent(head.limits)
        memory, pids = head.runs.peaks()
        assert memory and pids  # the watcher saw the pip install's RUN container
        attrs = engine.inspect_image(image)
        assert labels[LABEL_RUN] in json.dumps(attrs["Config"]["Labels"])
    finally:
        head.release()
        if isinstance(head.outcome, tuple) and head.outcome[0]:
            engine.remove_image(head.outcome[0])


@pytest.mark.parametrize("builder", ["auto", "classic"])
def test_a_build_the_pipeline_never_asks_for_is_cancelled_and_removed(
    builder: str,
    repo_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    leftovers: Callable[[], Any],
) -> None:
    # both head starts (BuildKit's here, the classic builder's in headstart.py): the lab's
    # context cap (1000 bytes) refuses the submission, so the pipeline never builds it
    folder = submission_copy(repo_root, tmp_path, "tp6-ok")
    (folder / "notes.txt").write_text("x" * 2000)
    lab = tp6_lab_with(repo_root, tmp_path, "context_limit_bytes = 1000")
    out = tmp_path / "out"
    args = [str(folder), "--lab", str(lab), "--output", str(out), "--lang", "en"]
    with caplog.at_level(logging.INFO):
        assert main([*args, "--builder", builder]) == 0
    assert "build of tp6-ok sent ahead" in caplog.text
    assert "adopted" not in caplog.text
    build = next(c for c in written_report(out, "tp6-ok")["checks"] if c["id"] == "build.succeeds")
    assert build["status"] == "failed" and "allowed" in build["message"]
    assert leftovers() == ([], [])


def test_an_engine_closed_before_it_was_asked_removes_what_the_build_made(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any]
) -> None:
    folder = submission_copy(repo_root, tmp_path, "tp6-ok")
    head = _sent(tmp_path, folder, new_run_labels())
    assert head.finished.wait(300)
    assert isinstance(head.outcome, tuple) and head.outcome[0]  # an image was made
    engine = Engine()
    engine.expect(head)
    engine.close()
    assert not head.take()  # discarded by close
    assert leftovers() == ([], [])


def test_an_abandoned_build_stops_in_the_engine(tmp_path: Path, engine: Engine) -> None:
    folder = tmp_path / "slow"
    folder.mkdir()
    nonce = secrets.token_hex(8)
    (folder / "Dockerfile").write_text(f"FROM python:3.11-slim\nRUN sleep 60 # {nonce}\n")
    head = _sent(tmp_path, folder, new_run_labels())
    for _ in range(300):  # until the RUN step runs (its group appears under the parent)
        if head.runs is not None and head.runs.runs():
            break
        time.sleep(0.1)
    else:
        pytest.fail("the build never reached its RUN step")
    started = time.monotonic()
    assert head.abandon(wait_s=20) is None  # no image: cancelled before its end
    assert time.monotonic() - started < 20
    assert isinstance(head.outcome, BaseException)


def test_the_build_says_while_its_run_step_runs(tmp_path: Path, engine: Engine) -> None:
    """What the grader's loading waits on (grader/cli/idleload.py)."""
    folder = tmp_path / "steps"
    folder.mkdir()
    nonce = secrets.token_hex(8)
    (folder / "Dockerfile").write_text(
        f"FROM python:3.11-slim\nRUN sleep 2 # {nonce}\nRUN echo {nonce} > /done\n"
    )
    head = _sent(tmp_path, folder, new_run_labels())
    assert head.take()
    seen: list[bool] = []
    try:
        while not head.finished.wait(0.05):
            seen.append(head.running_step())
        assert head.over() and not head.running_step()
        assert isinstance(head.outcome, tuple) and head.outcome[0], head.outcome
        # the two-second step is seen running for most of it; the build's other steps are not
        assert seen.count(True) >= 20, seen
    finally:
        head.release()
        if isinstance(head.outcome, tuple) and head.outcome[0]:
            engine.remove_image(head.outcome[0])


def test_nothing_is_sent_ahead_for_a_dockerfile_that_needs_the_cli_session(
    repo_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = submission_copy(repo_root, tmp_path, "tp6-ok")
    dockerfile = folder / "Dockerfile"
    text = dockerfile.read_text().replace("RUN ", "RUN --mount=type=secret,id=x ", 1)
    dockerfile.write_text(text)
    head = headgrpc.begin([folder], tmp_path / "out", True, [], new_run_labels())
    assert isinstance(head, headgrpc.GrpcHead)
    assert head.decided.wait(30)
    assert head.declined == "a secret or ssh mount: the Docker CLI builds it"
    assert head.abandon() is None

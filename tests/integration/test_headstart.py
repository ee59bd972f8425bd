"""The build sent ahead (grader/engine/headstart.py; BuildKit's, grader/engine/headgrpc.py, in
the tests parametrized by builder) on the real engine: adopted by the pipeline, the same image
docker-py builds, the same verdicts as a class run, and cancelled and removed when the
pipeline never asks for it."""

from __future__ import annotations

import json
import logging
import socket
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.cli.entry import main
from grader.engine import Engine, headstart
from grader.engine.bounds import BuildLimits
from grader.engine.headstart import HeadStart
from grader.labels import LABEL_RUN, new_run_labels
from tests.integration.conftest import (
    submission_copy,
    written_report,
    written_statuses,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]
GOLDENS = Path(__file__).parent / "goldens"
CLASSIC = ("--builder", "classic")
"""The head start sends the classic builder's build: BuildKit builds through the CLI."""


BUILDERS = {"classic": CLASSIC, "buildkit": ()}
"""Each head start, by the command line that sends it: ``auto`` sends BuildKit's."""


def _graded_ahead(
    folder: Path, out: Path, builder: str, caplog: pytest.LogCaptureFixture, *args: str
) -> None:
    """``grade`` on one submission folder, its build sent ahead by ``builder``'s head start
    and adopted by the pipeline."""
    name = folder.name
    with caplog.at_level(logging.INFO):
        assert main([str(folder), "--output", str(out), *args, *BUILDERS[builder]]) == 0
    assert f"build of {name} sent ahead" in caplog.text
    adopted = f"build of {name}: adopted the one sent ahead"
    assert (adopted + " (BuildKit)" in caplog.text) == (builder == "buildkit"), caplog.text
    assert adopted in caplog.text


@pytest.mark.parametrize("builder", list(BUILDERS))
@pytest.mark.parametrize(
    "name", ["tp6-ok", "tp6-syntax-error", "tp6-copy-no-slash", "tp6-code-before-deps"]
)
def test_one_submission_is_built_ahead_with_the_verdicts_of_a_class_run(
    name: str,
    builder: str,
    repo_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    leftovers: Callable[[], Any],
) -> None:
    folder = submission_copy(repo_root, tmp_path, name)
    out = tmp_path / "out"
    _graded_ahead(folder, out, builder, caplog, "--lang", "en")
    golden = tomllib.loads((GOLDENS / "tp6.toml").read_text(encoding="utf-8"))[name]
    if builder == "classic":  # the classic builder's own verdicts, where they differ
        classic = tomllib.loads((GOLDENS / "classic.toml").read_text(encoding="utf-8"))
        golden = classic.get(name, golden)
    assert written_statuses(out, name) == golden
    assert written_report(out, name)["facts"]["builder"] == builder
    assert leftovers() == ([], [])


def test_the_build_sent_ahead_is_the_build_docker_py_makes(
    repo_root: Path, tmp_path: Path, engine: Engine
) -> None:
    folder = submission_copy(repo_root, tmp_path, "tp6-ok")
    (folder / "app.py").write_text((folder / "app.py").read_text() + f"# {tmp_path.name}\n")
    labels = new_run_labels()
    head = headstart.begin([folder], tmp_path / "out", True, [], labels)
    assert isinstance(head, HeadStart), head
    assert head.take()
    ahead = [item for item in head.stream(300) if "aux" in item]
    image = str(ahead[-1]["aux"]["ID"])  # type: ignore[index]
    try:
        # the same folder through docker-py: every step, the label step too, from the cache
        again = engine.build(
            folder, "Dockerfile", labels, 300, 64_000, limits=BuildLimits(), builder="classic"
        )
        assert again.image_id == image
        assert again.log.count("Using cache") == again.log.count("Step ") - 1  # all but FROM
    finally:
        engine.remove_image(image)
        assert head.group is not None  # bounded as the engine's own builds are
        assert head.group.remove()


def test_an_engine_closed_before_it_was_asked_removes_what_the_build_made(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any]
) -> None:
    # the run failed before any pipeline built (a bad lab, say): the image is gone all the same
    folder = submission_copy(repo_root, tmp_path, "tp6-ok")
    labels = new_run_labels()
    head = headstart.begin([folder], tmp_path / "out", True, [], labels)
    assert isinstance(head, HeadStart), head
    for _ in range(600):  # until the build has made its image (by this run's label)
        if any(labels[LABEL_RUN] in str(i.get("Labels")) for i in leftovers()[1]):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the build sent ahead never made its image")
    engine = Engine()
    engine.expect(head)
    engine.close()
    assert not head.take()  # discarded by close
    assert leftovers() == ([], [])


def test_a_build_sent_to_another_engine_is_never_adopted(tmp_path: Path, engine: Engine) -> None:
    ours, theirs = socket.socketpair()
    answer = json.dumps({"aux": {"ID": "sha256:" + "0" * 64}}) + "\r\n"
    theirs.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer.encode())
    )
    head = HeadStart(ours, str(tmp_path / "other.sock"), tmp_path, new_run_labels())
    engine.expect(head)  # not this engine's socket: abandoned at once, its image removed
    assert not head.take()
    theirs.close()


def test_an_abandoned_build_stops_in_the_engine(tmp_path: Path, engine: Engine) -> None:
    folder = tmp_path / "slow"
    folder.mkdir()
    nonce = tmp_path.name
    (folder / "Dockerfile").write_text(f"FROM python:3.11-slim\nRUN sleep 60 # {nonce}\n")
    head = headstart.begin([folder], tmp_path / "out", True, [], new_run_labels())
    assert isinstance(head, HeadStart), head
    for _ in range(100):  # until the RUN step's container runs
        running = engine.api.containers(filters={"ancestor": "python:3.11-slim"})
        if any(nonce in c.get("Command", "") for c in running):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the build never reached its RUN step")
    assert head.abandon(wait_s=20) is None  # no image: cancelled before its end
    running = engine.api.containers(filters={"ancestor": "python:3.11-slim"})
    assert not [c for c in running if nonce in c.get("Command", "")]


@pytest.mark.parametrize("builder", list(BUILDERS))
def test_a_multi_stage_submission_with_a_dockerignore_is_built_ahead(
    builder: str, repo_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = submission_copy(repo_root, tmp_path, "tp6bis-ok")
    (folder / "node_modules" / "left").mkdir(parents=True)  # what its .dockerignore keeps out
    (folder / "node_modules" / "left" / "index.js").write_text("module.exports = 1\n")
    out = tmp_path / "out"
    _graded_ahead(folder, out, builder, caplog)
    golden = tomllib.loads((GOLDENS / "tp6bis.toml").read_text(encoding="utf-8"))["tp6bis-ok"]
    local = {k: v for k, v in golden.items() if not k.startswith("registry.")}  # no push here
    actual = written_statuses(out, "tp6bis-ok")
    assert {k: actual[k] for k in local} == local


def test_a_class_folder_is_built_by_the_pipeline_alone(
    repo_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    submission_copy(repo_root, tmp_path, "tp6-ok")
    with caplog.at_level(logging.INFO):
        assert main([str(tmp_path / "in"), "--output", str(tmp_path / "out"), *CLASSIC]) == 0
    assert "no build sent ahead: no Dockerfile in PATH" in caplog.text
    assert written_statuses(tmp_path / "out", "tp6-ok")["build.succeeds"] == "passed"

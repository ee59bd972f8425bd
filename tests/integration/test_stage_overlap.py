"""The stages that need no check to ask for them start by themselves: the rebuilds (layer-cache
probe, build stage alone) once the build succeeded, the container's facts once it answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine import Engine
from grader.grading.pipeline import Pipeline
from grader.grading.settings import Options
from grader.intake.submission import load_submission
from grader.labels import LABEL_RUN, new_run_labels
from grader.labs.spec import load_lab

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def labels(engine: Engine) -> Iterator[dict[str, str]]:
    """This module's run labels; its images are removed at the end."""
    run = new_run_labels()
    yield run
    engine.sweep(run[LABEL_RUN])


def _pipeline(
    repo_root: Path, engine: Engine, labels: dict[str, str], name: str, lab: str
) -> tuple[Pipeline, dict[str, str]]:
    root = repo_root / "submissions" / name
    pipeline = Pipeline(
        load_submission(root, name), load_lab(lab), lambda: engine, labels, Options()
    )
    threads: dict[str, str] = {}  # stage -> the thread that ran it
    pipeline.on_stage = lambda stage: threads.setdefault(stage, threading.current_thread().name)
    return pipeline, threads


def _wait_done(pipeline: Pipeline, stages: tuple[str, ...], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(pipeline.done(s) for s in stages):
        assert time.monotonic() < deadline, [s for s in stages if not pipeline.done(s)]
        time.sleep(0.05)


def test_the_rebuilds_start_once_the_build_succeeded(
    repo_root: Path, engine: Engine, labels: dict[str, str]
) -> None:
    pipeline, threads = _pipeline(repo_root, engine, labels, "tp6bis-ok", "tp6bis")
    try:
        _ = pipeline.build  # nothing asks for sizes or layer_cache
        _wait_done(pipeline, ("sizes", "layer_cache"))
        assert threads["sizes"] == threads["layer_cache"] == "grader-rebuilds"
        assert threads["build"] == threading.current_thread().name
        assert pipeline.sizes.single_source == "build stage"
        assert pipeline.layer_cache.steps
        assert not pipeline.done("start")  # the rebuilds need no container
    finally:
        pipeline.close()


def test_no_rebuild_the_lab_does_not_check(
    repo_root: Path, engine: Engine, labels: dict[str, str]
) -> None:
    pipeline, threads = _pipeline(repo_root, engine, labels, "tp6-ok", "tp6")
    try:
        _ = pipeline.build
        _wait_done(pipeline, ("layer_cache",))
        assert threads["layer_cache"] == "grader-rebuilds"
        assert not pipeline.done("sizes")  # tp6 has no image.size check: no second build
    finally:
        pipeline.close()


def test_the_container_facts_are_gathered_once_it_answers(
    repo_root: Path, engine: Engine, labels: dict[str, str]
) -> None:
    pipeline, threads = _pipeline(repo_root, engine, labels, "tp6bis-ok", "tp6bis")
    try:
        assert pipeline.start.ready
        stages = ("runtime", "dev_packages", "root_probe")
        _wait_done(pipeline, stages)
        assert {threads[s] for s in stages} == {f"grader-{s}" for s in stages}
        assert pipeline.root_probe.status == 200
        assert not pipeline.done("missing_probe")  # tp6bis has no http.not_found check
        assert pipeline.runtime.still_running and pipeline.dev_packages.present == ()
        assert not pipeline.done("stop")
        assert pipeline.stop.outcome == "exited"
    finally:
        pipeline.close()

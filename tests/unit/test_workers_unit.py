"""grader/classrun/workers.py: which stages a lab's checks need, and the least-loaded engine
choice."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

from grader.classrun.workers import (
    EnginePool,
    check_fixtures,
    default_jobs,
    prepare,
    split_stages,
    stage_names,
    stages_for,
)
from grader.engine import Engine
from grader.grading.pipeline import Pipeline
from grader.labs.spec import load_lab

RUBRIC = """
@check("http.root_text")
def test_root_text(root_probe, grade):
    pass

@check("build.succeeds")
def test_succeeds(build_outcome: object, grade: object) -> None:
    pass

def helper(image):
    pass
"""


def test_check_fixtures_reads_the_decorated_functions_only() -> None:
    assert check_fixtures(RUBRIC) == {
        "http.root_text": ("root_probe", "grade"),
        "build.succeeds": ("build_outcome", "grade"),
    }


def test_stage_names_maps_fixtures_to_pipeline_stages_once_in_order() -> None:
    fixtures = ["submission", "dockerfile_problem", "grade", "build_outcome", "image",
                "runtime_or_none", "dockerfile", "root_probe", "lab", "missing_probe"]  # fmt: skip
    assert stage_names(fixtures) == [
        "dockerfile", "build", "image", "runtime", "root_probe", "missing_probe"
    ]  # fmt: skip


def test_stages_for_a_built_in_lab(repo_root: Path) -> None:
    stages = stages_for(load_lab("tp6"), repo_root / "checks")
    assert {"dockerfile", "build", "image", "start", "root_probe", "missing_probe"} <= set(stages)
    assert "sizes" not in stages  # tp6 has no image.size check: no second build
    assert set(stages_for(load_lab("tp6bis"), repo_root / "checks")) >= {"sizes", "dev_packages"}


def test_a_lab_of_static_checks_only_never_builds(repo_root: Path) -> None:
    lab = load_lab("tp6")
    static = ("dockerfile.base_image", "dockerfile.workdir", "dockerfile.copy_not_add")
    only = dataclasses.replace(lab, checks=tuple(c for c in lab.checks if c.id in static))
    assert len(only.checks) == 3
    assert stages_for(only, repo_root / "checks") == ["dockerfile"]


def _pool(n: int) -> EnginePool:
    return EnginePool([cast(Engine, object()) for _ in range(n)])


def test_pool_spreads_over_the_least_loaded_engine() -> None:
    pool = _pool(2)
    assert [pool.pick(), pool.pick(), pool.pick()] == [0, 1, 0]
    pool.release(0)
    pool.release(0)  # engine 0 is free, engine 1 still busy
    assert pool.pick() == 0
    pool.release(0)
    pool.release(1)  # both free: the one given fewer so far goes first
    assert pool.pick() == 1
    assert pool.used == [3, 2]


def test_pool_of_one_engine_and_of_none() -> None:
    pool = _pool(1)
    assert {pool.pick() for _ in range(3)} == {0}
    with pytest.raises(ValueError):
        EnginePool([])


def test_connect_closes_what_it_opened_when_one_engine_is_missing() -> None:
    closed: list[str | None] = []

    class Fake:
        def __init__(self, url: str | None) -> None:
            if url == "down":
                raise RuntimeError("no engine")
            self.url = url

        def close(self) -> None:
            closed.append(self.url)

    with pytest.raises(RuntimeError):
        EnginePool.connect(["a", "down", "b"], cast(Any, Fake))
    assert closed == ["a"]
    assert len(EnginePool.connect([], cast(Any, Fake)).engines) == 1  # no URL: the default one


def test_default_jobs_is_bounded_and_per_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_jobs() == 4 and default_jobs(2) == 8
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert default_jobs() == 1


def test_every_plugin_fixture_that_reads_a_stage_is_prepared_ahead() -> None:
    """A fixture reading ``pipeline.<stage>`` under another name must be in FIXTURE_STAGES,
    or -j would leave that stage to the main thread (correct, but serial)."""
    import ast

    import grader.plugin

    tree = ast.parse(Path(grader.plugin.__file__).read_text(encoding="utf-8"))
    missing = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        read = {
            n.attr
            for n in ast.walk(node)
            if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name)
            and n.value.id == "pipeline"
            and isinstance(getattr(Pipeline, n.attr, None), property)
        }
        if read and not read & set(stage_names([node.name])):
            missing.append((node.name, sorted(read)))
    assert missing == []


def test_side_stages_leave_the_critical_path_static_ones_first() -> None:
    stages = ["dockerfile", "build", "image", "start", "sizes", "runtime", "context", "lint"]
    critical, side, network = split_stages(stages)
    assert critical == ["dockerfile", "build", "start", "runtime"]
    assert side == ["lint", "context", "sizes", "image"]  # the build stage's build first
    assert network == []
    assert split_stages(["dockerfile", "root_probe"]) == (["dockerfile", "root_probe"], [], [])


def test_registry_stages_leave_the_critical_path_too() -> None:
    stages = ["build", "start", "declaration", "registry_status", "registry_probe", "stop"]
    assert split_stages(stages) == (
        ["build", "start", "stop"],
        [],
        ["declaration", "registry_status", "registry_probe"],
    )


class StagePipeline:
    """Stages that record the thread they ran in and when ``on_built`` was told."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self._done: set[str] = set()
        self._lock = threading.Lock()
        self.booting = threading.Event()  # set when the start begins: its container started

    def done(self, name: str) -> bool:
        return name in self._done

    def __getattr__(self, stage: str) -> object:
        with self._lock:  # each stage runs once, as the pipeline's cache makes it
            if stage in self._done:
                return object()
            self.log.append(stage)
            self._done.add(stage)
        if stage == "start":
            self.booting.set()  # the container started; its app boots (the sleep)
        if stage in ("build", "start"):
            time.sleep(0.05)  # the side thread gets to its stages meanwhile
        if stage == "start":
            self.log.append("ready")
        if stage == "lint":
            raise RuntimeError("a failed stage is cached for its check, not raised here")
        return object()


def test_on_built_is_told_once_every_image_building_stage_has_run() -> None:
    log: list[str] = []
    pipeline = StagePipeline(log)
    stages = ["build", "start", "lint", "layer_cache", "registry_status", "stop"]
    prepare(pipeline, stages, threading.Event(), lambda: log.append("built"))  # type: ignore[arg-type]
    assert log.count("built") == 1
    assert log.index("built") > max(log.index("build"), log.index("layer_cache"))
    assert sorted(s for s in log if s not in ("built", "ready")) == sorted(stages)


def test_the_side_stages_that_build_or_read_layers_wait_for_the_container_s_start() -> None:
    log: list[str] = []
    stages = ["build", "start", "root_probe", "lint", "image", "waste", "layer_cache", "stop"]
    prepare(StagePipeline(log), stages, threading.Event())  # type: ignore[arg-type]
    assert log.index("lint") < log.index("start")  # the static ones run during the build
    for stage in ("image", "waste", "layer_cache"):
        assert log.index(stage) > log.index("start"), log


class BlockingSizes(StagePipeline):
    """``sizes`` waits for stage ``beside`` to start: it ends at once if they run side by
    side, after its 2 s bound if one waits for the other."""

    def __init__(self, log: list[str], beside: str) -> None:
        super().__init__(log)
        self.beside = beside
        self.rebuilding = threading.Event()
        self.waited: bool | None = None

    def __getattr__(self, stage: str) -> object:
        if stage == self.beside:
            self.rebuilding.set()
        elif stage == "sizes" and "sizes" not in self.log:
            self.waited = self.rebuilding.wait(2.0)
        return super().__getattr__(stage)


@pytest.mark.parametrize("beside", ["layer_cache", "waste", "image"])
def test_the_layer_cache_rebuild_the_waste_and_the_image_facts_run_beside_the_build_stage_build(
    beside: str,
) -> None:
    """None waits for the build stage's build (a TP6 BIS: about 0.25 s, the longest of the
    stages after the start): the waste's layer reads (0.02 s) and the image facts (0.03 s) no
    longer follow it."""
    log: list[str] = []
    pipeline = BlockingSizes(log, beside)
    stages = [
        "build", "start", "root_probe", "lint", "sizes", "image", "waste", "layer_cache", "stop",
    ]  # fmt: skip
    prepare(pipeline, stages, threading.Event())  # type: ignore[arg-type]
    assert pipeline.waited is True, log
    assert log.index(beside) > log.index("start"), log


class BlockingRuntime(StagePipeline):
    """``runtime`` waits for ``dev_packages`` to begin: it ends at once if they run side by
    side, after its 2 s bound if one waits for the other."""

    def __init__(self, log: list[str]) -> None:
        super().__init__(log)
        self.reading = threading.Event()
        self.waited: bool | None = None

    def __getattr__(self, stage: str) -> object:
        if stage == "dev_packages":
            self.reading.set()
        elif stage == "runtime" and "runtime" not in self.log:
            self.waited = self.reading.wait(2.0)
        return super().__getattr__(stage)


def test_the_dev_packages_are_read_beside_the_runtime_facts_once_the_app_answers() -> None:
    """Their ``docker exec`` (a TP6 BIS: 0.06 s) no longer holds the probes and the stop."""
    log: list[str] = []
    pipeline = BlockingRuntime(log)
    stages = ["build", "start", "runtime", "dev_packages", "root_probe", "lint", "stop"]
    assert split_stages(stages)[0] == ["build", "start", "runtime", "root_probe", "stop"]
    prepare(pipeline, stages, threading.Event())  # type: ignore[arg-type]
    assert pipeline.waited is True, log
    assert log.index("ready") < log.index("dev_packages"), log


def test_the_build_stage_build_begins_while_the_app_boots() -> None:
    """``sizes`` waits for the container's start, not for its app's answer: begun then, the
    engine's export of the build stage ends before the stop instead of after it."""
    log: list[str] = []
    stages = ["build", "start", "root_probe", "lint", "sizes", "image", "stop"]
    prepare(StagePipeline(log), stages, threading.Event())  # type: ignore[arg-type]
    assert log.index("start") < log.index("sizes") < log.index("ready"), log
    assert log.index("image") > log.index("ready"), log


class NoBoot(StagePipeline):
    """A start that ends without its container ever starting (a build that failed, a run out
    of time); ``stop``: set while the build runs (the run stopped) instead."""

    def __init__(self, log: list[str], stop: threading.Event | None = None) -> None:
        super().__init__(log)
        self.stop = stop

    def __getattr__(self, stage: str) -> object:
        if stage == "build" and self.stop is not None:
            time.sleep(0.1)  # the side thread is waiting for the container by then
            self.stop.set()
        if stage == "start":
            with self._lock:
                self.log.append(stage)
                self._done.add(stage)
            return object()  # booting never set
        return super().__getattr__(stage)


def _prepared_within(pipeline: StagePipeline, stages: list[str], stop: threading.Event) -> bool:
    worker = threading.Thread(target=prepare, args=(pipeline, stages, stop), daemon=True)
    worker.start()
    worker.join(2.0)
    return not worker.is_alive()


def test_the_build_stage_build_never_waits_for_a_container_that_never_starts() -> None:
    log: list[str] = []
    assert _prepared_within(NoBoot(log), ["build", "start", "sizes"], threading.Event()), log
    assert log.index("start") < log.index("sizes"), log  # computed: it reports the failure


def test_the_build_stage_build_is_not_begun_once_the_run_is_stopped() -> None:
    log: list[str] = []
    stop = threading.Event()
    assert _prepared_within(NoBoot(log, stop), ["build", "start", "sizes"], stop), log
    assert "sizes" not in log, log

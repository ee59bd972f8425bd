"""Run submissions' Docker stages ahead in worker threads, each on the least-loaded engine.

pytest is not thread-safe, so the rubric itself runs in the main thread; what a worker does is
to compute, in advance, every ``Pipeline`` stage the lab's checks will ask for (build, image,
start, probes, runtime facts). The checks then only read cached facts. Which stages a check
needs is read from the rubric's source (its function's parameters are fixture names), without
importing it: importing the rubric outside pytest would defeat pytest's assertion rewriting.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from grader.engine import Engine
from grader.grading.pipeline import STAGE_INPUTS, Pipeline
from grader.labs.spec import LabSpec, rubric_dir

FIXTURE_STAGES = {
    "dockerfile_or_none": "dockerfile",
    "dockerfile_problem": "dockerfile",
    "build_outcome": "build",
    "image_config": "image",
    "runtime_or_none": "runtime",
    "build_context": "context",
}
"""Fixtures that read a stage under another name; any other fixture named like a stage
``Pipeline`` declares (``STAGE_INPUTS``) reads that stage."""
MAX_DEFAULT_JOBS = 4


def default_jobs(engines: int = 1) -> int:
    """Submissions graded at once when ``-j`` is not given: the machine's cores, at most 4,
    per engine."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS)) * max(1, engines)


def check_fixtures(source: str) -> dict[str, tuple[str, ...]]:
    """Check id -> parameter names of its rubric function, from a rubric module's text (pure)."""
    found: dict[str, tuple[str, ...]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if (
                isinstance(deco, ast.Call)
                and isinstance(deco.func, ast.Name)
                and deco.func.id == "check"
                and deco.args
                and isinstance(deco.args[0], ast.Constant)
            ):
                found[str(deco.args[0].value)] = tuple(a.arg for a in node.args.args)
    return found


@functools.cache
def rubric_fixtures(folder: Path) -> dict[str, tuple[str, ...]]:
    """Check id -> fixture names, for every check of the rubric in ``folder`` (read once)."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted(folder.glob("test_*.py")):
        found.update(check_fixtures(path.read_text(encoding="utf-8")))
    return found


def stage_names(fixtures: Sequence[str]) -> list[str]:
    """The ``Pipeline`` stages these fixtures read, in order, each once (pure)."""
    stages: list[str] = []
    for name in fixtures:
        stage = FIXTURE_STAGES.get(name, name)
        if stage in STAGE_INPUTS and stage not in stages:
            stages.append(stage)
    return stages


def stages_for(lab: LabSpec, folder: Path | None = None) -> list[str]:
    """The stages the lab's checks will read, in the lab's check order."""
    table = rubric_fixtures(folder or rubric_dir())
    return stage_names([f for c in lab.checks for f in table.get(c.id, ())])


SIDE_STAGES = ("lint", "context", "sizes", "image", "waste", "layer_cache", "dev_packages")
"""Stages off the critical path (build, start, probes, runtime facts), in the order a second
thread runs those that have none of their own (``OWN_THREAD``): the static ones first, during
the build; then the build stage's build, the longest (the critical path reads the image's
facts itself when it needs them first). All but ``dev_packages`` never need the container."""
NETWORK_STAGES = ("declaration", "reference", "registry_status", "registry_probe")
"""Stages that talk to the image's registry (and run the image pulled from it): a third
thread runs them from the start, so a slow registry (or a slow DNS answer that none exists)
never holds up the student's container, nor its stop."""


def split_stages(stages: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """(critical path, side stages, registry stages) of ``stages`` (pure); the side and
    registry ones in ``SIDE_STAGES`` / ``NETWORK_STAGES`` order, the critical ones in their
    own."""
    side = [s for s in SIDE_STAGES if s in stages]
    network = [s for s in NETWORK_STAGES if s in stages]
    apart = {*SIDE_STAGES, *NETWORK_STAGES}
    return [s for s in stages if s not in apart], side, network


IMAGE_STAGES = ("build", "sizes", "layer_cache")
"""Stages that build an image carrying the run's label (removed at the end of the run)."""


AFTER_START = ("image", "waste", "layer_cache", "dev_packages")
"""Side stages that wait for the container's start (the app answering, or not): their builds
and layer reads would take the CPU from the app's own start, on the critical path; after it,
they run while the container is probed and stopped, which mostly waits. The dev packages
are read in the container once its app answers, as its runtime facts are."""
AFTER_BOOT = ("sizes",)
"""Side stages that wait for the container to be started, not for its app: the build stage's
build, the longest stage after the start (a TP6 BIS: 0.2 s, mostly the engine exporting
layers), ended after the stop; begun while the app boots, it slows the boot by 0.02 to
0.04 s and ends before the stop (with the collector off while the grader loads, 6 alternated
pairs of a cold TP6 BIS: median -0.092 s)."""
BOOT_POLL_S = 0.02
"""How often a stage waiting for the container's start looks whether the run stopped."""


def _booted(pipeline: Pipeline, stop: threading.Event) -> None:
    """Wait until the student's container is started (or never will be: the start stage is
    over), or the run stops."""
    while not pipeline.booting.wait(BOOT_POLL_S):
        if stop.is_set() or pipeline.done("start"):
            return


OWN_THREAD = ("layer_cache", "waste", "image", "dev_packages")
"""Side stages with a thread of their own: the layer-cache rebuild is a build the engine runs
beside the build stage's (``sizes``), both after the start; one after the other, they outlast
the probes and the stop (a TP6 BIS: 0.18 s, then 0.07 s). The waste's layer reads (0.02 s)
and the image facts (an inspect and a file read, 0.025 to 0.035 s) followed the build stage's
build too, the last stage to end once the stop is quick: the report waited for them. The dev
packages' ``docker exec`` (0.06 s, mostly the engine's) runs once the app answers, beside the
runtime facts and the probes instead of after them: the stop waits for all of them."""


def _run_stages(
    pipeline: Pipeline,
    stages: Sequence[str],
    stop: threading.Event,
    after: Callable[[], None],
    started: bool = False,
) -> None:
    """Run ``stages`` in order; ``started``: the critical path starts the container, which
    the ``AFTER_START`` and ``AFTER_BOOT`` stages wait for."""
    for stage in stages:
        if stop.is_set():
            return
        if started and stage in AFTER_BOOT:
            _booted(pipeline, stop)
            if stop.is_set():  # stopped while it waited
                return
        elif started and stage in AFTER_START:
            started = False
            with contextlib.suppress(Exception):  # computed once: here, or awaited
                _ = pipeline.start
        with contextlib.suppress(Exception):  # cached: the check that reads the stage reports it
            getattr(pipeline, stage)
        after()


def prepare(
    pipeline: Pipeline,
    stages: Sequence[str],
    stop: threading.Event,
    on_built: Callable[[], None] = lambda: None,
) -> None:
    """Run ``stages`` now (their outcome, value or failure, is cached for the checks): the
    critical path in this thread, the side and registry stages each in a thread of their
    own (see ``split_stages``; the first group present runs here). ``on_built`` is called
    once every stage that builds an image has run (later stages build none)."""
    builders = [s for s in stages if s in IMAGE_STAGES]
    told = threading.Event()
    lock = threading.Lock()

    def after() -> None:
        with lock:
            if not told.is_set() and all(pipeline.done(s) for s in builders):
                told.set()
                on_built()

    try:
        critical, side, network = split_stages(stages)
        alone = [[stage] for stage in side if stage in OWN_THREAD]
        side = [stage for stage in side if stage not in OWN_THREAD]
        groups = [group for group in (critical, side, *alone, network) if group]
        starts = "start" in stages
        threads = [
            threading.Thread(
                target=_run_stages,
                args=(pipeline, group, stop, after, starts),
                name=f"{threading.current_thread().name}-{i}",
            )
            for i, group in enumerate(groups[1:], start=1)
        ]
        for thread in threads:
            thread.start()
        try:
            if groups:
                _run_stages(pipeline, groups[0], stop, after)
        finally:
            for thread in threads:
                thread.join()
    finally:
        with lock:
            if not told.is_set():
                told.set()
                on_built()


class EnginePool:
    """The engines of a class run; each submission goes to the one with the fewest at work."""

    def __init__(self, engines: Sequence[Engine]) -> None:
        if not engines:
            raise ValueError("an engine pool needs at least one engine")
        self.engines = list(engines)
        self._busy = [0] * len(engines)
        self.used = [0] * len(engines)
        """Submissions given to each engine so far."""
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls, urls: Sequence[str | None], factory: Callable[[str | None], Engine] = Engine
    ) -> EnginePool:
        """Connect to every engine (``None``: the default one); all must answer.

        Raises:
            EngineUnavailable: one of them does not answer (the others are closed).
        """
        engines: list[Engine] = []
        try:
            for url in urls or [None]:
                engines.append(factory(url))
        except BaseException:
            for engine in engines:
                engine.close()
            raise
        return cls(engines)

    def pick(self) -> int:
        """Index of the least-loaded engine (fewest at work, then fewest given so far)."""
        with self._lock:
            index = min(range(len(self.engines)), key=lambda i: (self._busy[i], self.used[i], i))
            self._busy[index] += 1
            self.used[index] += 1
            return index

    def release(self, index: int) -> None:
        """The submission given to engine ``index`` has left it."""
        with self._lock:
            self._busy[index] -= 1

    def close(self) -> None:
        """Close every connection."""
        for engine in self.engines:
            engine.close()

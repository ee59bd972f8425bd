"""The rest of the grader loaded while the build sent ahead runs, on a core its RUN steps
leave free.

``grade`` sends a single submission's build first (``grader.engine.headgrpc``), then loads
docker-py, pytest, the pipeline and the report templates (some 0.3 s of CPU) while the build
runs. A cold TP6 BIS's two ``npm ci`` keep both cores of this machine busy for two seconds:
loading then slowed the build by as much as it took, and the build ended 0.2 to 0.3 s later
than with nothing loaded beside it. So the loading goes one module at a time (the heavy ones
first, as the grader imports them anyway), and before each, while a RUN step of that build
runs (its container seen by the build's watcher) and the machine has no core to spare (as
many tasks runnable as cores, ``procs_running`` in ``/proc/stat``), it waits. It goes on as
soon as a core is free (a single-threaded ``pip install`` or ``npm test`` leaves one), no RUN
step runs (a build from the cache: nothing to wait for), the build has ended, or it has waited
``MAX_WAIT_S`` in all. Measured in docs/performance.md ("Changes for run 8e6f5197b771").
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Sequence
from typing import Protocol

HEAVY: tuple[str, ...] = (
    "http.client",
    "email.parser",
    "urllib3",
    "requests",
    "grader.engine.sdk",
    "grader.engine",
    "grader.grading.pipeline",
    "grader.classrun.batch",
    "grader.cli.command",
)
"""What ``grader.cli.command`` loads, the heaviest first, each in the order it imports them
(a module here must be one it loads anyway). docker-py is loaded through
``grader.engine.sdk``, which keeps its ssh:// adapter's paramiko out (some 90 ms of CPU):
``import docker`` alone would bring it in."""
WARM: tuple[str, ...] = ("jinja2", "_pytest.config", "pytest", "grader.grading.single")
"""What the checks' warm-up (``grader.classrun.jobs.warm_up``) loads, the heaviest first."""
MAX_WAIT_S = 4.0
"""Longest the loading waits in all: a build busy longer gets it beside its steps."""
PAUSE_S = 0.01
"""Pause before the machine's load is read again."""
SAMPLES = 3
"""Readings of ``procs_running`` per look (median), ``SAMPLE_GAP_S`` apart: a single one
catches a task between two bursts of I/O."""
SAMPLE_GAP_S = 0.002


class Build(Protocol):
    """What the loading asks of the build sent ahead (``headgrpc.GrpcHead``)."""

    def running_step(self) -> bool:
        """True while one of its RUN steps runs."""
        ...

    def over(self) -> bool:
        """True once the build has ended (or will not run)."""
        ...


def runnable_tasks(stat: str) -> int | None:
    """The ``procs_running`` count of a ``/proc/stat`` text (pure); None when absent."""
    for line in stat.splitlines():
        if line.startswith("procs_running"):
            fields = line.split()
            return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
    return None


def read_runnable() -> int | None:
    """Tasks runnable on the machine now, this thread included."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return runnable_tasks(stat.read())
    except OSError:
        return None


def busy(readings: Sequence[int | None], cores: int) -> bool:
    """True when the median reading leaves no core for this thread (pure): as many other
    tasks runnable as cores. Unknown readings count as a free machine."""
    known = sorted(r - 1 for r in readings if r is not None)  # this thread is one of them
    return bool(known) and known[len(known) // 2] >= cores


def load(
    build: Build,
    modules: Sequence[str] = HEAVY,
    *,
    importer: Callable[[str], object] = importlib.import_module,
    runnable: Callable[[], int | None] = read_runnable,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    cores: int | None = None,
    max_wait_s: float = MAX_WAIT_S,
    warm_up: Callable[[], None] | None = None,
) -> float:
    """Import ``modules``, each once the build leaves a core for it (see the module's text);
    then, if a RUN step still runs, warm the checks' modules and the report templates up
    the same way (``warm_up``, by default ``grader.classrun.jobs.warm_up``, cheap to call
    again: otherwise the class run calls it once the pipeline has started). Returns the
    seconds waited."""
    cores = cores or os.cpu_count() or 1
    waited = 0.0

    def wait_for_a_core() -> None:
        nonlocal waited
        while waited < max_wait_s and build.running_step() and not build.over():
            readings = []
            for i in range(SAMPLES):
                if i:
                    sleep(SAMPLE_GAP_S)
                readings.append(runnable())
            if not busy(readings, cores):
                return
            began = clock()
            sleep(PAUSE_S)
            waited += clock() - began

    for name in modules:
        wait_for_a_core()
        importer(name)
    if not build.running_step():  # no time to spare: the class run warms up, beside its stages
        return waited
    for name in WARM:
        wait_for_a_core()
        importer(name)
    wait_for_a_core()
    if warm_up is None:
        from grader.classrun import jobs

        warm_up = jobs.warm_up
    warm_up()
    return waited

"""The grader loaded beside the build sent ahead (grader/cli/idleload.py): it waits while a
RUN step runs on a machine with no core to spare, and only then."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from grader.cli import idleload


@dataclass
class FakeBuild:
    """A build whose RUN step runs for the first ``steps`` looks (or always: -1)."""

    steps: int = 0
    ended: bool = False
    looks: int = 0

    def running_step(self) -> bool:
        self.looks += 1
        return self.steps < 0 or self.looks <= self.steps

    def over(self) -> bool:
        return self.ended


@dataclass
class Machine:
    """``procs_running`` readings, one per call; then ``rest`` for ever."""

    readings: list[int | None]
    rest: int | None = 1
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def runnable(self) -> int | None:
        return self.readings.pop(0) if self.readings else self.rest

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _load(build: FakeBuild, machine: Machine, **kwargs: object) -> tuple[list[str], float, bool]:
    imported: list[str] = []
    warmed = []
    waited = idleload.load(
        build,
        ("a", "b", "c"),
        importer=imported.append,
        runnable=machine.runnable,
        sleep=machine.sleep,
        clock=machine.clock,
        cores=2,
        warm_up=lambda: warmed.append(True),
        **kwargs,  # type: ignore[arg-type]
    )
    return imported, waited, bool(warmed)


def test_the_count_of_runnable_tasks_is_read_from_proc_stat() -> None:
    text = "cpu  1 2 3 4\nctxt 99\nprocs_running 5\nprocs_blocked 0\n"
    assert idleload.runnable_tasks(text) == 5
    assert idleload.runnable_tasks("cpu 1 2 3\n") is None
    assert idleload.read_runnable() is not None  # this machine's own /proc/stat


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        ([3, 3, 3], True),  # two others runnable on two cores: none left
        ([2, 2, 2], False),  # one other: a core is free
        ([5, 1, 1], False),  # the median: one burst is not a busy machine
        ([1, 4, 3], True),
        ([None, None, None], False),  # unknown: not waited for
    ],
)
def test_a_machine_is_busy_when_its_cores_are_all_taken_by_others(
    readings: list[int | None], expected: bool
) -> None:
    assert idleload.busy(readings, cores=2) is expected


def test_a_build_from_the_cache_is_never_waited_for() -> None:
    machine = Machine([9] * 100)  # busy, but no RUN step runs
    imported, waited, warmed = _load(FakeBuild(steps=0), machine)
    assert imported == ["a", "b", "c"]
    assert (waited, machine.slept) == (0.0, [])
    assert not warmed  # nothing to spare: the class run warms up beside its stages


def test_a_busy_machine_is_waited_for_while_a_run_step_runs() -> None:
    # busy for two looks (three readings each), then free
    machine = Machine([3] * 6, rest=2)
    imported, waited, warmed = _load(FakeBuild(steps=-1), machine)
    expected = ["a", "b", "c", *idleload.WARM]
    assert imported == expected
    assert waited == pytest.approx(2 * idleload.PAUSE_S)
    assert warmed  # a step still runs: the checks' warm-up goes before the pipeline too


def test_the_wait_ends_with_the_build() -> None:
    build = FakeBuild(steps=-1, ended=True)
    machine = Machine([], rest=9)
    imported, waited, _ = _load(build, machine)
    assert imported[:3] == ["a", "b", "c"]
    assert waited == 0.0


def test_the_wait_is_bounded() -> None:
    machine = Machine([], rest=9)  # busy for ever
    imported, waited, warmed = _load(FakeBuild(steps=-1), machine, max_wait_s=0.05)
    assert imported == ["a", "b", "c", *idleload.WARM]
    assert warmed
    assert 0.05 - 1e-9 <= waited < 0.05 + 2 * idleload.PAUSE_S


def python_prints(script: str) -> str:
    """What a fresh interpreter running ``script`` prints (it must succeed)."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


GRADING_RUN = "import grader.cli.command\nfrom grader.classrun.jobs import warm_up\n"
"""What a grading run loads: the command, then the checks' warm-up (``warm_up()``)."""


def test_the_modules_loaded_ahead_are_those_a_grading_run_loads_anyway() -> None:
    """A module the grader did not need would cost the CPU this saves."""
    printed = python_prints(
        "import sys\n"
        f"{GRADING_RUN}"
        "from grader.cli import idleload\n"
        "print(*[m for m in idleload.HEAVY if m not in sys.modules])\n"
        "warm_up()\n"
        "print(*[m for m in idleload.WARM if m not in sys.modules])\n"
    )
    assert printed.splitlines() == ["", ""]


def test_loading_ahead_brings_in_nothing_a_grading_run_would_not_load() -> None:
    """docker-py imported directly, not through ``grader.engine.sdk``, brings in paramiko and
    its dependencies (90 ms of CPU, beside the build)."""
    ahead = python_prints(
        "import sys\n"
        "from grader.cli import idleload\n"
        "class Over:\n"
        "    def running_step(self): return True\n"
        "    def over(self): return True\n"
        "idleload.load(Over())\n"
        "print(*sorted(sys.modules))\n"
    ).split()
    run = python_prints(f"import sys\n{GRADING_RUN}warm_up()\nprint(*sorted(sys.modules))\n")
    extra = set(ahead) - set(run.split()) - {"grader.cli.idleload"}
    assert sorted(extra) == []
    assert "paramiko" not in ahead

"""The raw floor of a whole class: ``xargs -P N`` of the floor sequence, one line per student.

Each student runs ``bench.floor.SCRIPT`` (``docker build``, ``docker run -d -p``, ``curl`` until
200, ``docker rm -f``), ``N`` at a time, as an instructor with a shell loop would. The build is
``docker build`` as the CLI runs it by default (BuildKit through buildx on Engine 23 and later).
Every image carries the benchmark's label valued ``<run id>:<step>``, every container
``<run id>``: ``bench.dockerio.clean_up`` removes them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.dockerio import BENCH_LABEL, STEP_SEPARATOR
from bench.floor import POLL_S, SCRIPT, FloorTarget

XARGS_EXIT_FAILED = 123
"""xargs's status when some invocation failed (a student whose floor got no 200)."""


def cli_env() -> dict[str, str]:
    """The environment of a ``docker build`` as the CLI runs it by default (no builder forced)."""
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_BUILDKIT"}
    return {**env, "BENCH_LABEL": BENCH_LABEL, "STEP_SEPARATOR": STEP_SEPARATOR}


def free_ports(count: int) -> list[int]:
    """``count`` distinct host ports free right now on 127.0.0.1 (held together while picked)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def argument_lines(students: Sequence[FloorTarget], run_id: str, step: str, deadline_s: int) -> str:
    """xargs's input: one line of the floor script's 8 arguments per student (pure but ports)."""
    lines = []
    for i, (target, port) in enumerate(zip(students, free_ports(len(students)), strict=True)):
        args = (target.context, target.dockerfile, target.port, port, run_id, f"{step}-{i}",
                deadline_s, POLL_S)  # fmt: skip
        if any(c.isspace() for a in args for c in str(a)):
            raise ValueError(f"a path with a blank cannot go through xargs: {target.context}")
        lines.append(" ".join(map(str, args)))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ClassFloor:
    """One timed ``xargs -P N`` run of the floor over a class."""

    jobs: int
    """N: students at once."""
    seconds: float
    """Wall time of the whole xargs run."""
    exit_code: int
    """xargs's status (0: every student got its 200)."""
    students: int
    """Students in the class."""
    stderr_tail: str = ""
    """The end of its stderr (for a failed run)."""

    def to_dict(self) -> dict[str, object]:
        """Plain data for the JSON file."""
        return {"jobs": self.jobs, "seconds": self.seconds, "exit_code": self.exit_code,
                "students": self.students, "stderr_tail": self.stderr_tail}  # fmt: skip


def run_class_floor(
    students: Sequence[FloorTarget], jobs: int, run_id: str, step: str, work: Path,
    deadline_s: int = 300,
) -> ClassFloor:  # fmt: skip
    """Run the floor over ``students``, ``jobs`` at a time, with ``xargs -P``; timed."""
    script = work / "floor.sh"
    script.write_text(SCRIPT, encoding="utf-8")
    lines = argument_lines(students, run_id, step, deadline_s)
    argv = ["xargs", "-P", str(jobs), "-L", "1", "bash", str(script)]
    started = time.perf_counter()
    done = subprocess.run(
        argv, input=lines, capture_output=True, text=True, env=cli_env(), check=False
    )
    seconds = time.perf_counter() - started
    tail = "\n".join(done.stderr.strip().splitlines()[-3:])
    return ClassFloor(jobs, seconds, done.returncode, len(students), tail)


def warm(target: FloorTarget, run_id: str) -> bool:
    """``docker build`` as the CLI runs it, labelled, untimed: BuildKit's cache holds the
    dependency layers afterwards (the class arms then differ only in the app layer)."""
    argv = ["docker", "build", "-q", "--label", f"{BENCH_LABEL}={run_id}"]
    argv += ["-f", str(target.dockerfile), str(target.context)]
    done = subprocess.run(argv, capture_output=True, text=True, env=cli_env(), check=False)
    return done.returncode == 0

"""The raw floor: what any grader must do at least, run through the docker CLI and curl.

Per submission, a plain shell sequence: ``docker build`` (as the machine's CLI runs it:
BuildKit once the buildx plugin is installed, as on a student's machine), ``docker run -d
-p``, ``curl`` in a tight loop until the first 200, ``docker rm -f``. Its wall time is the
floor the grader is compared with.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.dockerio import BENCH_LABEL, STEP_SEPARATOR

POLL_S = 0.01
"""Pause between two curl attempts (curl itself takes a few ms to start)."""

SCRIPT = r"""
set -eu
ctx=$1 dockerfile=$2 port=$3 host_port=$4 run=$5 step=$6 deadline=$7 poll=$8
img=$(docker build -q --label "$BENCH_LABEL=$run$STEP_SEPARATOR$step" -f "$dockerfile" "$ctx")
cid=$(docker run -d --label "$BENCH_LABEL=$run" -p "127.0.0.1:$host_port:$port" "$img")
trap 'docker rm -f "$cid" >/dev/null' EXIT
end=$(( $(date +%s) + deadline )) url="http://127.0.0.1:$host_port/"
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url")" = 200 ]; do
    if [ "$(date +%s)" -ge "$end" ]; then echo "no 200 within ${deadline}s" >&2; exit 1; fi
    sleep "$poll"
done
"""
"""The floor, verbatim; ``docker rm -f`` runs in the EXIT trap (also when curl never gets 200)."""


class FloorFailed(Exception):
    """The floor sequence did not reach a 200 (the submission does not build or serve)."""


@dataclass(frozen=True)
class FloorTarget:
    """What the floor needs to know about a submission."""

    context: Path
    """The build context (a temporary copy)."""
    dockerfile: Path
    """The Dockerfile (under a fallback name for some submissions)."""
    port: int
    """The port the app listens on inside the container."""


def free_port() -> int:
    """A host port free right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_floor(target: FloorTarget, run_id: str, step: str, deadline_s: int = 300) -> float:
    """Run the floor sequence once; returns its wall time in seconds.

    Raises:
        FloorFailed: no 200 (build or start failed, or the deadline passed).
    """
    env = {**os.environ, "BENCH_LABEL": BENCH_LABEL}  # docker build as the machine's CLI runs it
    env["STEP_SEPARATOR"] = STEP_SEPARATOR
    argv = [
        "bash", "-c", SCRIPT, "floor",
        str(target.context), str(target.dockerfile), str(target.port), str(free_port()),
        run_id, step, str(deadline_s), str(POLL_S),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise FloorFailed(f"floor failed for {target.context.name}: {tail}")
    return seconds


def build_only(target: FloorTarget, run_id: str) -> bool:
    """``docker build`` with the benchmark's label, untimed (warms the cache); True if built.

    The image is kept until the end of the run, so its layers (the dependency installs) stay
    in the cache whatever the grader removes.
    """
    argv = ["docker", "build", "-q", "--label", f"{BENCH_LABEL}={run_id}"]
    argv += ["-f", str(target.dockerfile), str(target.context)]
    env = dict(os.environ)
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return done.returncode == 0

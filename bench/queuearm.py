"""The queue's arms: a class through Redis (``grade --queue`` and ``grade-worker``) against a
local ``-j N`` run, and two workers on two engines against one."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from bench import copies
from bench.gradearm import GradeRun, run_grade
from bench.runner import Bench, run_summary
from bench.stats import ratio

QUEUE_TARGET = 1.05
"""The class through the queue, one worker of N slots, against a local ``-j N`` run."""
ENGINES_TARGET = 0.6
"""Two workers on two engines against one worker on one engine."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis(folder: Path) -> Iterator[str]:
    """Debian's redis-server on 127.0.0.1, no persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing (scripts/tools.sh installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--dir", str(folder)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def workers(bench: Bench, url: str, slots: int, engines: list[str | None]) -> Iterator[None]:
    """A ``grade-worker`` of ``slots`` slots per engine, ready; their slots' pids are given
    to the bench's clean-up."""
    command = Path(bench.cfg.grade).with_name("grade-worker")
    procs = []
    for i, engine in enumerate(engines):
        argv = [str(command), "--queue", url, "-j", str(slots), "--name", f"bench-{i}@bench", "-v"]
        argv += ["--docker-host", engine] if engine else []
        log = bench.cfg.work / f"worker-{i}-{time.monotonic_ns()}.log"
        with log.open("w") as out:
            procs.append((subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT), log))
    try:
        for proc, log in procs:
            deadline = time.monotonic() + 120
            while "ready." not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"grade-worker did not start: {log.read_text()[-500:]}")
                time.sleep(0.1)
            bench.grade_pids += [c.pid for c in psutil.Process(proc.pid).children()]
        yield
    finally:
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in procs:
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def queued(bench: Bench, klass: Path, url: str) -> GradeRun:
    """``grade CLASS --queue URL --force``, timed."""
    out = bench.cfg.work / f"queued-{time.monotonic_ns()}"
    argv = [str(bench.cfg.grade), str(klass), "--queue", url, "--force", "--output", str(out)]
    return run_grade(argv, out, on_start=bench.grade_pids.append)


def queue_runs(bench: Bench, slots: int, second_engine: str | None) -> dict[str, Any]:
    """The class through the queue (one worker of ``slots``) against ``-j slots`` here, and
    two workers on two engines (this one and ``second_engine``) against one."""
    cfg, notes = bench.cfg, []
    sources = [cfg.submissions / n for n in cfg.class_sources]

    def new_class() -> Path:
        folder = cfg.work / f"queue-class-{time.monotonic_ns()}"
        copies.generate_class(sources, folder, cfg.class_size, copies.nonce())
        return folder

    local = bench.grade([new_class()], jobs=slots)
    with redis(cfg.work / "redis") as url:
        with workers(bench, url, slots, [None]):
            one = queued(bench, new_class(), url)
        two = None
        if second_engine:
            with workers(bench, url, slots, [None, second_engine]):
                two = queued(bench, new_class(), url)
        else:
            notes.append("no --second-engine: the two-engine run was not made")
    return {
        "slots": slots,
        "local": run_summary(local),
        "one_worker": run_summary(one),
        "two_engines": run_summary(two),
        "queue_ratio": ratio(one.seconds, local.seconds),
        "queue_target": QUEUE_TARGET,
        "engines_ratio": ratio(two.seconds, one.seconds) if two else None,
        "engines_target": ENGINES_TARGET,
        "notes": notes,
    }


def queue_lines(queue: dict[str, Any]) -> list[str]:
    """The queue's rows for the printed table."""

    def seconds(run: dict[str, Any] | None) -> str:
        return "-" if run is None else f"{run['seconds']:.1f} s ({run['graded']} graded)"

    def verdict(value: float | None, target: float) -> str:
        return "-" if value is None else f"{value:.2f} ({'ok' if value <= target else 'MISSED'})"

    n = queue["slots"]
    return [
        "",
        f"Queue (Redis, grade-worker -j {n}):",
        f"  local -j {n}: {seconds(queue['local'])}",
        f"  one worker, -j {n}: {seconds(queue['one_worker'])}"
        f"  ratio {verdict(queue['queue_ratio'], queue['queue_target'])}"
        f", target <= {queue['queue_target']}",
        f"  two workers on two engines: {seconds(queue['two_engines'])}"
        f"  ratio {verdict(queue['engines_ratio'], queue['engines_target'])}"
        f", target <= {queue['engines_target']}",
        *(f"  note: {note}" for note in queue["notes"]),
    ]

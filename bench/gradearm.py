"""The grader's arm: the ``grade`` CLI as an instructor runs it, timed, its memory sampled."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.stats import median

NOT_GRADER = frozenset({"docker", "docker-proxy", "dockerd", "containerd", "runc"})
"""Process names that are Docker's, not the grader's (testinfra runs ``docker exec``)."""
SAMPLE_S = 0.02
"""Interval of the memory sampler."""

_LIVE: set[subprocess.Popen[str]] = set()
"""``grade`` processes running now (one may run in a thread of ``bench.listen``)."""


def stop_all(grace_s: float = 2.0, timeout_s: float = 60.0) -> None:
    """Stop the ``grade`` processes still running (after Ctrl-C), and wait for them.

    A terminal's Ctrl-C reaches them too: they get ``grace_s`` to stop by themselves, then
    SIGINT (``grade`` removes its containers and images and exits 130), then SIGKILL.
    """
    for proc in list(_LIVE):
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
    for proc in list(_LIVE):
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Capabilities:
    """What the installed ``grade`` offers (another branch adds ``-j`` and ``--force``)."""

    jobs: bool
    """``-j N``: grade N submissions at once."""
    force: bool
    """``--force``: regrade even when an earlier result could be reused."""


def capabilities_from_help(text: str) -> Capabilities:
    """Read ``grade --help`` for ``-j``/``--jobs`` and ``--force`` (pure)."""
    jobs = re.search(r"(^|[\s,\[])(-j|--jobs)(?![\w-])", text) is not None
    force = re.search(r"(^|[\s,\[])--force(?![\w-])", text) is not None
    return Capabilities(jobs=jobs, force=force)


def capabilities(grade: Path) -> Capabilities:
    """What the installed ``grade`` offers."""
    done = subprocess.run([str(grade), "--help"], capture_output=True, text=True, check=False)
    return capabilities_from_help(done.stdout)


def startup_seconds(grade: Path, times: int = 3, flag: str = "--version") -> float:
    """A fixed start-up cost of the grader: the median wall time of ``grade FLAG``.

    ``--version``: the command line alone, what a single submission's run costs before its
    build is sent (grader.engine.headstart); ``--list-labs``: the whole grader loaded, what a class
    run costs before its first build (a single submission's run overlaps it with its build).
    """
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        subprocess.run([str(grade), flag], capture_output=True, check=True)
        seconds.append(time.perf_counter() - started)
    return median(seconds) or 0.0


@dataclass(frozen=True)
class GradeRun:
    """One timed ``grade`` invocation."""

    seconds: float
    """Wall time, process start to exit."""
    exit_code: int
    """``grade``'s exit status (0: grading ran)."""
    pid: int
    """Its pid (its objects in Docker carry it in the owner label)."""
    argv: tuple[str, ...]
    """The command line."""
    output: Path
    """Its output folder."""
    peak_rss_mb: float | None = None
    """Peak of the summed RSS of ``grade`` and its non-Docker descendants, when sampled."""
    stderr_tail: str = ""
    """The end of its stderr (for a failed run)."""
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``report.json`` of every graded submission, by name."""


def grade_argv(
    grade: Path,
    paths: Sequence[Path],
    output: Path,
    caps: Capabilities,
    jobs: int | None = None,
    force: bool = True,
) -> list[str]:
    """The command line; ``-j``/``--force`` only when the installed ``grade`` offers them."""
    argv = [str(grade), *map(str, paths), "--output", str(output)]
    if jobs is not None and caps.jobs:
        argv += ["-j", str(jobs)]
    if force and caps.force:
        argv.append("--force")
    return argv


def tree_rss(proc: psutil.Process) -> int:
    """Bytes of RSS of ``proc`` and its descendants, Docker's processes left out."""
    rss = 0
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in family:
        try:
            if p.name() not in NOT_GRADER:
                rss += p.memory_info().rss
        except psutil.Error:
            continue  # ended between the listing and the reading
    return rss


def _sampler(proc: psutil.Process, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], tree_rss(proc))
        stop.wait(SAMPLE_S)


def run_grade(
    argv: Sequence[str],
    output: Path,
    sample_memory: bool = False,
    on_start: Callable[[int], None] = lambda pid: None,
) -> GradeRun:
    """Run ``grade`` once and time it; ``on_start`` receives its pid as soon as it runs."""
    peak = [0]
    stop = threading.Event()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _LIVE.add(proc)
    on_start(proc.pid)
    sampler = None
    if sample_memory:
        sampler = threading.Thread(
            target=_sampler, args=(psutil.Process(proc.pid), stop, peak), daemon=True
        )
        sampler.start()
    try:
        _, stderr = proc.communicate()
    finally:
        stop.set()  # on Ctrl-C the process stays in _LIVE: stop_all() waits for it
    seconds = time.perf_counter() - started
    _LIVE.discard(proc)
    if sampler is not None:
        sampler.join()
    return GradeRun(
        seconds=seconds,
        exit_code=proc.returncode,
        pid=proc.pid,
        argv=tuple(argv),
        output=output,
        peak_rss_mb=peak[0] / 1e6 if sample_memory else None,
        stderr_tail="\n".join(stderr.strip().splitlines()[-3:]),
        reports=read_reports(output),
    )


def read_reports(output: Path) -> dict[str, dict[str, Any]]:
    """Every ``<submission>/report.json`` under ``output``, by submission name."""
    reports = {}
    for path in sorted(output.glob("*/report.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        reports[str(data.get("submission", path.parent.name))] = data
    return reports


def check_statuses(report: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Check id -> status of one report, for the ids starting with ``prefix``."""
    return {
        str(c["id"]): str(c["status"])
        for c in report.get("checks", [])
        if str(c.get("id", "")).startswith(prefix)
    }

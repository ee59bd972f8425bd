"""The queue's arms: a class through Redis (``grade --queue`` and ``grade-worker``) against a
local ``-j N`` run, and two workers on two engines against one."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from bench import copies, secondengine
from bench.gradearm import GradeRun, check_statuses, run_grade
from bench.runner import Bench, run_summary
from bench.stats import median, ratio

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


def arms_order(repeat: int, arms: list[str]) -> list[str]:
    """The arms of repeat ``repeat``, rotated by one each repeat (each goes first in turn)."""
    k = repeat % len(arms)
    return arms[k:] + arms[:k]


def cpu_ticks() -> tuple[int, int]:
    """This machine's CPU time so far, all cores: (every tick, the idle ones), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(t) for t in stat.readline().split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]  # idle, iowait


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time (all cores) that was busy between two readings."""
    total, idle = after[0] - before[0], after[1] - before[1]
    return 1 - idle / total if total > 0 else 0.0


def arm_summary(runs: list[GradeRun], busy: list[float] | None = None) -> dict[str, Any] | None:
    """An arm's runs for the JSON file: every run, the median of their times and of the
    machine's busy CPU share during them."""
    if not runs:
        return None
    return {
        "seconds": median([r.seconds for r in runs]),
        "all_s": [round(r.seconds, 2) for r in runs],
        "graded": min(len(r.reports) for r in runs),
        "cpu_busy": median(busy or []),
        "runs": [run_summary(r) for r in runs],
    }


def warm_engine(bench: Bench, sources: list[Path], url: str) -> None:
    """Grade ``sources`` once on the engine at ``url``, untimed: its dependency layers are in
    its cache afterwards, as the first engine's are (``Bench.warm_class``)."""
    out = bench.cfg.work / f"warm-second-{time.monotonic_ns()}"
    argv = [str(bench.cfg.grade), *map(str, sources), "--docker-host", url, "--force",
            "--output", str(out)]  # fmt: skip
    run_grade(argv, out, on_start=bench.grade_pids.append)


def verdicts(run: GradeRun) -> Counter[tuple[str, str]]:
    """How many students got each (check, status) in ``run``: what two runs of the same class
    (fresh copies under other names) must share to be compared."""
    return Counter(
        (check, status) for report in run.reports.values()
        for check, status in check_statuses(report).items()
    )  # fmt: skip


def comparability(runs: dict[str, list[GradeRun]], size: int) -> list[str]:
    """Notes on whether the arms' times compare: each run graded the whole class with the
    verdicts most runs gave (checks in ``error`` included: a registry that no arm reaches
    fails the same checks in every arm, which leaves the times comparable)."""
    graded = [verdicts(r) for arm_runs in runs.values() for r in arm_runs]
    if not graded:
        return []
    usual = Counter(frozenset(v.items()) for v in graded).most_common(1)[0][0]
    notes = []
    for arm, arm_runs in runs.items():
        whole = [r for r in arm_runs if len(r.reports) == size and r.exit_code in (0, 1)]
        short = len(arm_runs) - len(whole)
        other = sum(frozenset(verdicts(r).items()) != usual for r in whole)
        if short or other:
            notes.append(f"{arm}: {short} run(s) short of the class or failed, "
                         f"{other} run(s) whose verdicts differ from the other runs': "
                         "its time is not comparable")  # fmt: skip
    errors = {check: n for (check, status), n in usual if status == "error"}
    if errors and not notes:
        notes.append(f"{sum(errors.values())} check(s) in error in every run of every arm, the "
                     f"same ones ({', '.join(sorted(errors))}): the arms graded alike, their "
                     "times compare")  # fmt: skip
    return notes


def paired_ratio(runs: list[GradeRun], against: list[GradeRun]) -> float | None:
    """The median of the repeats' own ratios (each run against the other arm's run of the same
    repeat, made just before or after it): the load of a shared machine drifts less within a
    repeat than between repeats."""
    return median([r.seconds / a.seconds for r, a in zip(runs, against, strict=False) if a.seconds])


def queue_runs(
    bench: Bench, slots: int, second_engine: str | None, own_engine: bool = True
) -> dict[str, Any]:
    """The class through the queue (one worker of ``slots``) against ``-j slots`` here, and
    two workers on two engines (this one and ``second_engine``, else one the bench starts
    when ``own_engine``) against one; each arm ``repeat`` times, the arms rotated, every run
    on a fresh generation of the class (the dependency layers warmed first on each engine)."""
    cfg, notes = bench.cfg, []
    sources = [cfg.submissions / n for n in cfg.class_sources]
    bench.warm_class(sources)

    def new_class() -> Path:
        folder = cfg.work / f"queue-class-{time.monotonic_ns()}"
        copies.generate_class(sources, folder, cfg.class_size, copies.nonce())
        return folder

    # untimed: each of the local run's build slots gets the dependency layers in its cache
    # (BuildKit keys a RUN step on its cgroup parent, one per slot; a worker's processes
    # build in slot 0 each, as a one-submission run does)
    warm = cfg.work / f"queue-warm-{time.monotonic_ns()}"
    copies.generate_class(sources, warm, 2 * slots * len(sources), copies.nonce())
    bench.grade([warm], jobs=slots)
    runs: dict[str, list[GradeRun]] = {}
    with contextlib.ExitStack() as stack:
        if second_engine is None and own_engine:
            sys.stderr.write("starting a second dockerd for the two-engine run...\n")
            try:
                started = secondengine.second_engine(cfg.run_id, secondengine.base_images(sources))
                second_engine = stack.enter_context(started)
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                notes.append(f"the second dockerd could not be started: {exc}")
        if second_engine:
            warm_engine(bench, sources, second_engine)
        else:
            notes.append("no second engine: the two-engine run was not made")
        arms = ["local", "one"] + (["two"] if second_engine else [])
        runs = {arm: [] for arm in arms}
        url = stack.enter_context(redis(cfg.work / "redis"))
        busy: dict[str, list[float]] = {arm: [] for arm in arms}
        for r in range(cfg.queue_repeat):
            for arm in arms_order(r, arms):
                if arm == "local":
                    before = cpu_ticks()
                    runs[arm].append(bench.grade([new_class()], jobs=slots))
                    busy[arm].append(busy_share(before, cpu_ticks()))
                    continue
                engines: list[str | None] = [None] if arm == "one" else [None, second_engine]
                with workers(bench, url, slots, engines):
                    before = cpu_ticks()
                    runs[arm].append(queued(bench, new_class(), url))
                    busy[arm].append(busy_share(before, cpu_ticks()))
    notes += comparability(runs, cfg.class_size)
    if "two" in runs and 2 * slots > (os.cpu_count() or 1):
        notes.append(f"the two-engine arm runs 2 x {slots} stage slots on this machine's "
                     f"{os.cpu_count()} cores, which both engines share: it shows what a second "
                     "engine overlaps (its image and container work, the downloads), not a "
                     "second host's cores")  # fmt: skip
    local, one, two = (
        arm_summary(runs.get(arm, []), busy.get(arm)) for arm in ("local", "one", "two")
    )
    return {
        "slots": slots,
        "repeat": cfg.queue_repeat,
        "size": cfg.class_size,
        "local": local,
        "one_worker": one,
        "two_engines": two,
        "queue_ratio": ratio(one["seconds"], local["seconds"]) if one and local else None,
        "queue_target": QUEUE_TARGET,
        "engines_ratio": ratio(two["seconds"], one["seconds"]) if two and one else None,
        "paired_queue_ratio": paired_ratio(runs.get("one", []), runs.get("local", [])),
        "paired_engines_ratio": paired_ratio(runs.get("two", []), runs.get("one", [])),
        "engines_target": ENGINES_TARGET,
        "engines_floor": one["cpu_busy"] if one else None,
        "notes": notes,
    }


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def cpu_lines(queue: dict[str, Any]) -> list[str]:
    """The machine's busy CPU share in each arm, and the floor it sets for two engines that
    share these cores: the one-worker run's share of the machine's CPU time is work that a
    second engine on the same cores cannot take off them."""
    shares = {arm: (queue.get(key) or {}).get("cpu_busy")
              for arm, key in (("local", "local"), ("one worker", "one_worker"),
                               ("two engines", "two_engines"))}  # fmt: skip
    if all(v is None for v in shares.values()):
        return []
    floor = queue.get("engines_floor")
    return [
        "  CPU busy (all cores, median): "
        + ", ".join(f"{arm} {v:.0%}" for arm, v in shares.items() if v is not None)
        + (f"; two engines on these cores cannot go below about {floor:.2f} of one"
           if floor is not None else "")
    ]  # fmt: skip


def queue_lines(queue: dict[str, Any]) -> list[str]:
    """The queue's rows for the printed table."""

    def seconds(run: dict[str, Any] | None) -> str:
        if run is None:
            return "-"
        every = ", ".join(f"{s:.1f}" for s in run["all_s"])
        return f"{run['seconds']:.1f} s median of [{every}] ({run['graded']} graded)"

    def verdict(value: float | None, target: float) -> str:
        return "-" if value is None else f"{value:.2f} ({'ok' if value <= target else 'MISSED'})"

    n = queue["slots"]
    return [
        "",
        f"Queue (Redis, grade-worker -j {n}, a class of {queue['size']}, "
        f"{queue['repeat']} repeat(s), arms rotated):",
        f"  local -j {n}: {seconds(queue['local'])}",
        f"  one worker, -j {n}: {seconds(queue['one_worker'])}"
        f"  ratio {verdict(queue['queue_ratio'], queue['queue_target'])}"
        f", target <= {queue['queue_target']}",
        f"  two workers on two engines: {seconds(queue['two_engines'])}"
        f"  ratio {verdict(queue['engines_ratio'], queue['engines_target'])}"
        f", target <= {queue['engines_target']}",
        f"  paired (median of each repeat's own ratio): queue "
        f"{_x(queue.get('paired_queue_ratio'))}, "
        f"two engines {_x(queue.get('paired_engines_ratio'))}",
        *cpu_lines(queue),
        *(f"  note: {note}" for note in queue["notes"]),
    ]

"""Time from the app's first listening moment to the grader's first probe reaching it.

Measured from outside both: while ``grade`` runs, the benchmark follows ``docker events`` for
the container the grader starts (matched by the grader's owner label naming the ``grade``
pid), then reads that container's ``/proc/<pid>/net/tcp`` and ``tcp6`` from the host every
millisecond. The first read showing a LISTEN socket on the app's port is the listening moment;
the first read showing a connection on that port (the grader's probe, relayed by Docker's
proxy: before the app listens, the proxy's connection is refused inside the container and
leaves no socket there) is the probe's arrival. Both moments are seen by the same poll, so
the error is about one interval (1 ms). If the socket is already listening at the first read,
the moment was missed and nothing is reported.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.dockerio import docker
from bench.gradearm import GradeRun, run_grade
from grader.labels import LABEL, LABEL_OWNER, live_pid

POLL_S = 0.001
LISTEN = "0A"
RUNC_STATE = Path("/run/docker/runtime-runc/moby")
"""Where runc keeps a running container's state (its init pid), on a local engine."""


def parse_tcp(text: str) -> list[tuple[int, str]]:
    """(local port, state hex) of every socket in a ``/proc/net/tcp*`` table (pure)."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[1]:
            continue
        sockets.append((int(fields[1].rsplit(":", 1)[1], 16), fields[3].upper()))
    return sockets


def read_sockets(pid: int) -> list[tuple[int, str]] | None:
    """The sockets of ``pid``'s network namespace, or None when the process is gone."""
    found = []
    try:
        for name in ("tcp", "tcp6"):
            found += parse_tcp(Path(f"/proc/{pid}/net/{name}").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return None
    return found


def container_pid(container_id: str) -> int | None:
    """The container's init pid: runc's state file (fast), else ``docker inspect``."""
    try:
        state = json.loads((RUNC_STATE / container_id / "state.json").read_text())
        return int(state["init_process_pid"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    out = docker("inspect", "-f", "{{.State.Pid}}", container_id, check=False)
    return int(out) if out.isdigit() and int(out) > 0 else None


def owned_by(owner_label: str, grade_pid: int) -> bool:
    """True when a grader owner label names ``grade_pid`` or one of its descendants (a
    ``-j`` worker process) on this machine, still running (same pid, same start time)."""
    pid = live_pid(owner_label)
    if pid is None:
        return False
    if pid == grade_pid:
        return True
    try:
        return grade_pid in {p.pid for p in psutil.Process(pid).parents()}
    except psutil.Error:
        return False


def _follow_events(
    events: subprocess.Popen[str], grade_pid: list[int], found: queue.Queue[str]
) -> None:
    assert events.stdout is not None
    for line in events.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        if grade_pid and owned_by(str(attributes.get(LABEL_OWNER, "")), grade_pid[0]):
            found.put(str(event.get("id") or event["Actor"]["ID"]))


@dataclass(frozen=True)
class Watched:
    """What the socket poller saw."""

    ms: float | None
    """Milliseconds from the read that first saw LISTEN to the one that first saw a
    connection; None when not measured."""
    uncertainty_ms: float | None
    """How far off ``ms`` may be: the longer of the two gaps between the deciding reads and
    the reads before them (1 ms on a quiet machine; more when the poller was held up)."""
    note: str
    """Why not measured, or that the poller was held up."""


HELD_UP_MS = 5.0
"""An uncertainty above this is said in the note."""


def watch(pid: int, port: int, done: threading.Event, timeout_s: float) -> Watched:
    """Poll ``pid``'s sockets until a connection reaches ``port`` after it listens."""
    deadline = time.monotonic() + timeout_s
    listened: tuple[float, float] | None = None  # (previous read, read that saw LISTEN)
    previous: float | None = None
    while not done.is_set() and time.monotonic() < deadline:
        sockets = read_sockets(pid)
        now = time.monotonic()
        if sockets is None:
            return Watched(None, None, "the container stopped before a probe reached the app")
        on_port = [state for p, state in sockets if p == port]
        if listened is None and LISTEN in on_port:
            if previous is None:
                note = "missed: the app already listened when the container was found"
                return Watched(None, None, note)
            listened = (previous, now)
        if listened is not None and previous is not None and any(s != LISTEN for s in on_port):
            gap = max(listened[1] - listened[0], now - previous) * 1000
            note = f"the bench's poller was held up: ±{gap:.0f} ms" if gap > HELD_UP_MS else ""
            return Watched((now - listened[1]) * 1000, gap, note)
        previous = now
        time.sleep(POLL_S)
    return Watched(None, None, "no probe reached the app" if listened else "the app never listened")


def listen_to_probe(
    argv: Sequence[str],
    output: Path,
    port: int,
    on_start: Callable[[int], None] = lambda pid: None,
    timeout_s: float = 300,
) -> tuple[GradeRun | None, Watched]:
    """Run ``grade`` while watching its container; returns the run and what was seen.

    ``on_start`` receives the ``grade`` pid as soon as it runs (for the clean-up).
    """
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    events = subprocess.Popen(
        ["docker", "events", "--since", since, "--format", "{{json .}}",
         "--filter", "type=container", "--filter", "event=start",
         "--filter", f"label={LABEL}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    grade_pid: list[int] = []
    found: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_follow_events, args=(events, grade_pid, found), daemon=True).start()
    done = threading.Event()
    result: list[GradeRun] = []

    def started(pid: int) -> None:
        grade_pid.append(pid)
        on_start(pid)

    def grade() -> None:
        try:
            result.append(run_grade(argv, output, on_start=started))
        finally:
            done.set()

    runner = threading.Thread(target=grade, daemon=True)
    runner.start()
    watched = Watched(None, None, "the grader started no container")
    try:
        while not done.is_set():
            try:
                container_id = found.get(timeout=0.05)
            except queue.Empty:
                continue
            pid = container_pid(container_id)
            if pid is None:
                watched = Watched(None, None, "the container stopped at once")
                break
            watched = watch(pid, port, done, timeout_s)
            break
        runner.join()
    finally:
        events.terminate()
        events.wait()
    return (result[0] if result else None), watched

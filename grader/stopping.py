"""The stop: ``docker stop``'s outcome, without waiting its grace when PID 1 shows it already.

A container's PID 1 is its pid namespace's init: the kernel drops a signal sent to it whose
disposition is the default one (SIGKILL aside). On a local engine the grader reads PID 1's
``SigCgt`` and ``SigIgn`` masks in the host's ``/proc/<pid>/status``:

- before the stop, a PID 1 that does not catch the stop signal (a Python app, the
  ``/bin/sh -c`` of a shell-form ENTRYPOINT) can only be killed: known at once (``ignored``);
- after the signal, a PID 1 that no longer catches it and does not ignore it either, while
  still alive, has reset it to the default and re-raised it (Node without a listener), which
  the kernel dropped: it will not stop either (``dropped``).

Either way the container is killed (SIGKILL, exit 137) as ``docker stop`` would have done at
the end of its grace, which is not waited. Otherwise the stop is watched until PID 1 exits or
the grace ends. A remote engine (no ``/proc`` of it here) gets the timed ``docker stop``.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

from grader import probe as http
from grader.engine import Engine
from grader.runtime import MainProcess

WATCH_S = 0.01
"""Interval of the reads of PID 1's masks after the stop signal."""
CONFIRM_READS = 2
"""Consecutive reads showing the signal dropped before it is taken as known."""
DEFAULT_SIGNAL = "SIGTERM"


@dataclass(frozen=True)
class Masks:
    """PID 1's signal dispositions as bit masks (bit ``n - 1`` for signal ``n``)."""

    caught: int
    """``SigCgt``: signals it has a handler for."""
    ignored: int
    """``SigIgn``: signals it ignores."""
    state: str
    """The ``State:`` letter (``Z``: exited, not yet reaped)."""

    def catches(self, signum: int) -> bool:
        """True when a handler of its own runs on ``signum``."""
        return bool(self.caught >> (signum - 1) & 1)

    def defaults(self, signum: int) -> bool:
        """True when ``signum`` has the default disposition (dropped for PID 1)."""
        return not self.catches(signum) and not self.ignored >> (signum - 1) & 1

    @property
    def alive(self) -> bool:
        """False once the process has exited (a zombie or dead)."""
        return self.state not in ("Z", "X", "x")


def parse_status(text: str) -> Masks | None:
    """The masks of a ``/proc/<pid>/status`` text; None when a line is missing (pure)."""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        state = fields["State"].split()[0]
        return Masks(int(fields["SigCgt"], 16), int(fields["SigIgn"], 16), state)
    except (KeyError, IndexError, ValueError):
        return None


def read_masks(proc: Path) -> Masks | None:
    """PID 1's masks now; None when it is gone (or its status cannot be read)."""
    try:
        return parse_status((proc / "status").read_text())
    except OSError:
        return None


def signal_number(name: str | None) -> int | None:
    """The number of a STOPSIGNAL (``SIGTERM``, ``TERM``, ``15``); None when unknown (pure)."""
    text = (name or DEFAULT_SIGNAL).strip().upper()
    if text.isdigit():
        return int(text) if 0 < int(text) < signal.NSIG else None
    try:
        return int(signal.Signals[text if text.startswith("SIG") else f"SIG{text}"])
    except KeyError:
        return None


@dataclass(frozen=True)
class Stopped:
    """How the container stopped."""

    seconds: float
    """Time from the stop asked to the container stopped."""
    exit_status: int | None
    """Exit status afterwards (137: killed)."""
    outcome: str
    """``timed`` (docker stop, remote engine), ``exited`` (PID 1 exited on the signal),
    ``ignored`` (not caught: killed at once), ``dropped`` (reset and re-raised: killed),
    ``grace`` (still running at the end of the grace: killed)."""
    signal_name: str = DEFAULT_SIGNAL
    """The signal ``docker stop`` sends (the image's STOPSIGNAL)."""


def stop(
    engine: Engine, container_id: str, main: MainProcess, grace_s: float, host_port: int | None
) -> Stopped:
    """Stop the container as ``docker stop -t grace_s`` would, and say how it went; while it
    stops, the app on ``host_port`` gets connections as from live traffic (``knocking``).

    Raises:
        EngineError: the engine failed.
    """
    config = engine.inspect_container(container_id).get("Config") or {}
    name = str(config.get("StopSignal") or DEFAULT_SIGNAL)
    signum = signal_number(name)
    masks = read_masks(main.proc) if main.proc is not None else None
    if main.proc is None or signum is None or masks is None:
        with http.knocking("127.0.0.1", host_port):  # as traffic would: see knocking
            seconds, status = engine.stop_container(container_id, grace_s)
        return Stopped(seconds, status, "timed", name)
    started = time.monotonic()
    if masks.alive and not masks.catches(signum):
        return _kill(engine, container_id, started, "ignored", name)
    if not engine.signal_container(container_id, name):
        return Stopped(_since(started), engine.wait_exit(container_id), "exited", name)
    with http.knocking("127.0.0.1", host_port):
        outcome = _watch(main.proc, signum, started + grace_s)
    if outcome != "exited":
        return _kill(engine, container_id, started, outcome, name)
    return Stopped(_since(started), engine.wait_exit(container_id), "exited", name)


def _watch(proc: Path, signum: int, deadline: float) -> str:
    """Read PID 1's masks until it exits (``exited``), resets the signal to the default while
    alive (``dropped``) or the deadline passes (``grace``)."""
    dropped = 0
    while True:
        masks = read_masks(proc)
        if masks is None or not masks.alive:
            return "exited"
        dropped = dropped + 1 if masks.defaults(signum) else 0
        if dropped >= CONFIRM_READS:
            return "dropped"
        if time.monotonic() >= deadline:
            return "grace"
        time.sleep(WATCH_S)


def _kill(engine: Engine, container_id: str, started: float, outcome: str, name: str) -> Stopped:
    if not engine.signal_container(container_id, "SIGKILL"):
        outcome = "exited"  # it exited by itself meanwhile
    return Stopped(_since(started), engine.wait_exit(container_id), outcome, name)


def _since(started: float) -> float:
    return time.monotonic() - started

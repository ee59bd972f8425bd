"""The stop: ``docker stop``'s outcome, without waiting its grace when PID 1 shows it already.

A container's PID 1 is its pid namespace's init: the kernel drops a signal sent to it whose
disposition is the default one (SIGKILL aside). On a local engine the grader reads PID 1's
``SigCgt`` and ``SigIgn`` masks in the host's ``/proc/<pid>/status``:

- before the stop, a PID 1 that does not catch the stop signal (a Python app, the
  ``/bin/sh -c`` of a shell-form ENTRYPOINT) can only be killed: known at once (``ignored``);
- after the signal, a PID 1 that no longer catches it and does not ignore it either, and stays
  alive, alone in its container and idle (sleeping, no CPU time used) for ``SETTLE_S``, has
  reset it to the default and re-raised it (Node without a listener), which the kernel
  dropped: it will not stop either (``dropped``). A Python app resets its handlers too, but
  only on its way out: busy, not idle.

Either way the container is killed (SIGKILL, exit 137) as ``docker stop`` would have done at
the end of its grace, which is not waited. Otherwise the stop is watched until PID 1 exits or
the grace ends. A remote engine (no ``/proc`` of it here) gets the timed ``docker stop``.

The signals go to PID 1 as the engine sends them (from the host's pid namespace), through a
pidfd when the grader may (root): the engine's kill API costs a round trip, and for SIGKILL it
also waits for the engine to have handled the exit (about 45 ms), which the container's
removal waits for anyway, later. A pidfd names one process for good: once it is open, the
process is checked to be the container's, so a pid reused meanwhile is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from grader.engine import Engine
from grader.stages import probe as http
from grader.stages.runtime import MainProcess

WATCH_S = 0.01
"""Interval of the reads of PID 1's masks after the stop signal."""
SETTLE_S = 0.05
"""How long PID 1 must stay alive, alone in its container, idle (sleeping, its CPU time still)
and with the signal at its default disposition before the signal counts as dropped. An
interpreter that resets its handlers on the way out (CPython does, just before its final
garbage collection) is busy then, not idle (runnable: ``R``, also while it waits for a CPU on
a loaded machine), and exits within milliseconds; a PID 1 that waits for its children to
stop is not alone. The connections of ``knocking`` end when the reset is first seen, so that
they do not wake an idle PID 1 up."""
CGROUP_ROOT = Path("/sys/fs/cgroup")
DEFAULT_SIGNAL = "SIGTERM"
KILLED_STATUS = 128 + signal.SIGKILL
"""The exit status the engine reports for a container killed by SIGKILL (137)."""


@dataclass(frozen=True)
class Masks:
    """PID 1's signal dispositions as bit masks (bit ``n - 1`` for signal ``n``)."""

    caught: int
    """``SigCgt``: signals it has a handler for."""
    ignored: int
    """``SigIgn``: signals it ignores."""
    state: str
    """The ``State:`` letter (``S``: sleeping; ``Z``: exited, not yet reaped)."""
    ticks: int = 0
    """CPU time used so far (user + system, in clock ticks, from ``/proc/<pid>/stat``)."""

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


def parse_ticks(stat: str) -> int:
    """User + system CPU ticks from a ``/proc/<pid>/stat`` text, 0 when unreadable (pure)."""
    fields = stat.rpartition(")")[2].split()
    try:
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    except (IndexError, ValueError):
        return 0


def read_masks(proc: Path) -> Masks | None:
    """PID 1's masks now; None when it is gone (or its status cannot be read)."""
    try:
        masks = parse_status((proc / "status").read_text())
        ticks = parse_ticks((proc / "stat").read_text())
    except OSError:
        return None
    return None if masks is None else replace(masks, ticks=ticks)


def cgroup_procs(proc: Path) -> Path | None:
    """The ``cgroup.procs`` file listing the processes of PID 1's container (cgroup v1 or v2),
    None when none can be read here."""
    try:
        lines = (proc / "cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:  # "id:controllers:path"; v2 has no controllers
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        names = [controllers, *controllers.split(",")] if controllers else ["", "unified"]
        for name in names:
            found = CGROUP_ROOT / name.removeprefix("name=") / path.lstrip("/") / "cgroup.procs"
            if found.is_file():
                return found
    return None


def alone(procs: Path | None) -> bool:
    """True when the container runs one process (PID 1: no child to wait for)."""
    if procs is None:
        return False
    try:
        return len(procs.read_text().split()) == 1
    except OSError:
        return False


def stop_signal_of(attrs: Mapping[str, Any]) -> str:
    """The signal ``docker stop`` sends to the container whose inspect is ``attrs`` (pure)."""
    config = attrs.get("Config") or {}
    return str(config.get("StopSignal") or DEFAULT_SIGNAL)


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
    engine: Engine,
    container_id: str,
    main: MainProcess,
    grace_s: float,
    host_port: int | None,
    address: str = "127.0.0.1",
    signal_name: str | None = None,
) -> Stopped:
    """Stop the container as ``docker stop -t grace_s`` would, and say how it went; while it
    stops, the app on ``host_port`` gets connections as from live traffic (``knocking``).
    ``signal_name``: the container's stop signal (``stop_signal_of`` its inspect), read from
    the engine when not given.

    Raises:
        EngineError: the engine failed.
    """
    name = signal_name or stop_signal_of(engine.inspect_container(container_id))
    signum = signal_number(name)
    masks = read_masks(main.proc) if main.proc is not None else None
    if main.proc is None or signum is None or masks is None:
        with http.knocking(address, host_port):  # as traffic would: see knocking
            seconds, status = engine.stop_container(container_id, grace_s)
        return Stopped(seconds, status, "timed", name)
    started = time.monotonic()
    if masks.alive and not masks.catches(signum):
        return _kill(engine, container_id, main.proc, started, "ignored", name)
    if not _signal(engine, container_id, main.proc, signum, name):
        return Stopped(_since(started), engine.wait_exit(container_id), "exited", name)
    with contextlib.ExitStack() as knocks:
        knocks.enter_context(http.knocking(address, host_port))
        outcome = watch(main.proc, signum, started + grace_s, knocks.close)
    if outcome != "exited":
        return _kill(engine, container_id, main.proc, started, outcome, name)
    return Stopped(_since(started), engine.wait_exit(container_id), "exited", name)


def signal_directly(proc: Path, owner: str, signum: int) -> bool | None:
    """Send ``signum`` to the process of ``proc`` (``/proc/<pid>``) through a pidfd, if it
    still is ``owner``'s (named in its ``cgroup`` file): True when sent, False when it has
    exited, None when it cannot be done here (not permitted, no pidfd, another owner)."""
    try:
        fd = os.pidfd_open(int(proc.name))
    except ProcessLookupError:
        return False
    except (OSError, ValueError, AttributeError):  # no pidfd (kernel < 5.3), not a pid
        return None
    try:  # the pidfd is that process for good: a pid reused now is no longer the owner's
        if owner not in (proc / "cgroup").read_text():
            return None
        signal.pidfd_send_signal(fd, signum)
        return True
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: not root; the cgroup file gone with the process
        return None
    finally:
        os.close(fd)


def _signal(engine: Engine, container_id: str, proc: Path, signum: int, name: str) -> bool:
    """Send the signal to PID 1, directly when the grader may; False when it had exited."""
    sent = signal_directly(proc, container_id, signum)
    return engine.signal_container(container_id, name) if sent is None else sent


def watch(
    proc: Path, signum: int, deadline: float, on_reset: Callable[[], None] = lambda: None
) -> str:
    """Read PID 1's masks until it exits (``exited``), stays alive, alone and idle with the
    signal at its default disposition for ``SETTLE_S`` (``dropped``), or the deadline passes
    (``grace``); ``on_reset`` runs when the default disposition is first seen."""
    procs = cgroup_procs(proc)
    since: tuple[float, int] | None = None  # when the dropped signal was first seen, ticks then
    reset = False
    while True:
        masks, now = read_masks(proc), time.monotonic()
        if masks is None or not masks.alive:
            return "exited"
        if masks.defaults(signum) and not reset:
            reset = True
            on_reset()
        if not masks.defaults(signum) or masks.state != "S":
            since = None  # still handling it, or busy (on its way out?)
        elif since is None or masks.ticks != since[1]:
            since = (now, masks.ticks)
        elif now - since[0] >= SETTLE_S and alone(procs):
            return "dropped"
        if now >= deadline:
            return "grace"
        time.sleep(WATCH_S)


def _kill(
    engine: Engine, container_id: str, proc: Path, started: float, outcome: str, name: str
) -> Stopped:
    """SIGKILL, as docker stop at the end of its grace; the exit status is then 137 (the
    container's removal waits for the rest)."""
    if _signal(engine, container_id, proc, signal.SIGKILL, "SIGKILL"):
        return Stopped(_since(started), KILLED_STATUS, outcome, name)
    # it exited by itself meanwhile
    return Stopped(_since(started), engine.wait_exit(container_id), "exited", name)


def _since(started: float) -> float:
    return time.monotonic() - started

"""The grader's Docker labels: what its containers and images carry, whose run they are.

Every object the grader creates carries ``LABEL``; containers also carry the run id, the owner
(``<host>:<pid>-<start>``, ``owner_label``) and the submission, images one label valued
``<run>@<owner>``. Clean-ups remove objects by these labels, never by name. Kept apart from
``grader.engine`` (which loads docker-py): the command line reads them before it loads
anything heavy (``grader.engine.headstart``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

LABEL = "org.docker-lab-grader"
"""Every object the grader creates carries this label (value ``1``)."""
LABEL_RUN = f"{LABEL}.run"
LABEL_OWNER = f"{LABEL}.owner"
LABEL_SUBMISSION = f"{LABEL}.submission"


def image_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The one label a build gives its image (pure): the grader's label, valued with the run
    id and the owner as ``<run>@<owner>``. The classic builder adds each label as a step
    of its own (about 55 ms each, on every build), so images carry one where containers carry
    them all; ``run_of`` and ``owner_of`` read both. No labels: no label step."""
    run = labels.get(LABEL_RUN, labels.get(LABEL))
    if run is None:
        return {}
    owner = labels.get(LABEL_OWNER)
    return {LABEL: f"{run}@{owner}" if owner else run}


def run_of(labels: Mapping[str, str]) -> str | None:
    """The run an object belongs to (pure): a container's run label, an image's grader label."""
    if LABEL_RUN in labels:
        return labels[LABEL_RUN]
    value = labels.get(LABEL)
    return None if value is None else value.partition("@")[0]


def owner_of(labels: Mapping[str, str]) -> str | None:
    """``<host>:<pid>-<start>`` of the grading process that made an object (pure), None if
    unknown."""
    if LABEL_OWNER in labels:
        return labels[LABEL_OWNER]
    return labels.get(LABEL, "").partition("@")[2] or None


def new_run_labels() -> dict[str, str]:
    """Labels for one grading run: a run id and the owning process (for sweeps)."""
    return {LABEL: "1", LABEL_RUN: os.urandom(6).hex(), LABEL_OWNER: owner_label()}


PROC = "/proc"


def start_time(pid: int, proc: str = PROC) -> str | None:
    """Field 22 of ``/proc/<pid>/stat`` (when the process started, in ticks since boot): with
    the pid, a process's identity; None when no such process runs, or no ``/proc`` here."""
    try:
        with open(f"{proc}/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[19] if len(fields) > 19 else None


def process_ident(pid: int, proc: str = PROC) -> str:
    """``<pid>-<start>`` of a process: with its start time, it tells the process from a later
    one given the same pid (pids wrap around at 32768 on many machines); ``0`` when the start
    cannot be read. Owner labels and the build cgroups' folders are named with it."""
    return f"{pid}-{start_time(pid, proc) or 0}"


def ident_runs(ident: str, proc: str = PROC) -> int | None:
    """The pid of the process ``ident`` (``process_ident``) names when that very process still
    runs (same pid, same start time); None otherwise. Without a start time (an earlier
    version's label, or ``0``: none could be read) it names whatever process has that pid
    now; so does any ident on a host without ``/proc`` (macOS), where the pid alone is asked
    about."""
    text, _, start = ident.partition("-")
    if not text.isdigit():
        return None
    pid = int(text)
    now = start_time(pid, proc)
    if now is not None:
        return pid if start in ("", "0", now) else None
    if os.path.isdir(f"{proc}/self"):  # /proc is there: no such process
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # another user's: it runs
        pass
    return pid


def owner_label(pid: int | None = None) -> str:
    """``<host>:<pid>-<start>`` of a process (this one by default): a dead run's objects never
    pass for a live one's (``process_ident``)."""
    return f"{socket.gethostname()}:{process_ident(os.getpid() if pid is None else pid)}"


def on_this_host(owner: str) -> bool:
    """True when an owner label names a process of this host (pure but for the host name)."""
    host, _, ident = owner.rpartition(":")
    return host == socket.gethostname() and ident.partition("-")[0].isdigit()


def owner_pid(owner: str) -> int | None:
    """The pid an owner label of this host names, alive or not; None for another host's."""
    return int(owner.rpartition(":")[2].partition("-")[0]) if on_this_host(owner) else None


def live_pid(owner: str, proc: str = PROC) -> int | None:
    """The pid of the process ``owner`` names when that very process still runs on this host
    (``ident_runs``); None otherwise, and for another host's."""
    return ident_runs(owner.rpartition(":")[2], proc) if on_this_host(owner) else None

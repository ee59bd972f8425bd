"""A worker's N stage slots, shared by its 2N slot processes: a task holds one while its
Docker stages run (build, start, probe, stop), not while its last checks, its report and its
container's removal finish.

A local ``grade -j N`` run keeps N threads on Docker stages while its main thread runs the
checks: a thread whose stages are over takes the next submission at once. A Celery slot grades
one task from end to end, so its engine would sit idle during each task's tail (about half a
second for tp6, a tenth of its time). ``grade-worker -j N`` therefore runs 2N processes and N
of these tokens: N processes finish tasks while N run stages, as in a local run (with N+1, a
slot freed while the one spare process was still finishing stayed idle until it was done).

The tokens are ``flock`` locks on N files: the kernel releases them when a process dies, so a
slot killed mid-task never keeps one.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

VARIABLE = "GRADER_WORKER_STAGE_SLOTS"
"""The folder of a worker's lock files (set by ``grade-worker`` for its slot processes)."""
POLL_S = 0.02
"""Seconds between two tries of a waiting process (a free slot idles half of it on average);
shorter costs CPU: with 2N processes, N of them may be waiting, and every try opens and
locks up to N files."""


def make(slots: int) -> Path:
    """A new folder of ``slots`` lock files (the caller removes it: ``remove``)."""
    folder = Path(tempfile.mkdtemp(prefix="grade-worker-slots-"))
    for i in range(slots):
        (folder / f"slot-{i}").touch()
    return folder


def remove(folder: Path) -> None:
    """Remove a folder ``make`` made."""
    shutil.rmtree(folder, ignore_errors=True)


class Token:
    """One stage slot, held until ``release`` (idempotent, any thread)."""

    def __init__(self, fd: int | None, index: int = 0) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.index = index
        """The slot's number, 0 to N-1: no other process of the worker holds it meanwhile."""

    def release(self) -> None:
        """Give the slot back (closing the file releases its lock)."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def acquire(folder: str | None) -> Token:
    """Wait for a free stage slot of the worker whose lock files are in ``folder``; a token
    that holds nothing when there is no folder (a task graded outside ``grade-worker``)."""
    if not folder:
        return Token(None)
    files = sorted(Path(folder).iterdir(), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    while True:
        for index, path in enumerate(files):
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return Token(fd, index)
            except BlockingIOError:
                os.close(fd)
        time.sleep(POLL_S)

"""A worker slot's clean-ups, off the task's critical path: a graded task's images are removed
in the background while the slot takes its next task.

A local class run removes its images once, at the end; a worker's slot grades one task after
another for days, so each task's images go when it is graded. The removals of one process run
one at a time, in a thread of their own; the process waits for them before it exits (Celery's
``worker_process_shutdown``).

A task removes its container, networks and the images its pipeline says it built, without
listing the engine's images: a listing by label makes the engine read every image it holds
(0.13 to 0.48 s of its CPU with a thousand images), which on a busy host is taken from the
builds of the other slots. One task in ``LIST_EVERY`` of a process lists them as well: its run's
images and those of dead owners (a slot killed outright, an earlier worker's processes, and so
the rare image a task built without its pipeline knowing, once its process has exited).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery.signals import worker_process_shutdown

from grader.engine import Engine
from grader.errors import EngineError

log = logging.getLogger(__name__)
_lock = threading.Lock()
_executor: tuple[int, ThreadPoolExecutor] | None = None
_engines: dict[str | None, Engine] = {}
"""The clean-up thread's own connections, by engine address: not the task's, whose ``close``
cancels the builds still running from this process (the slot's next task's)."""
_swept = 0
"""Tasks this process has cleaned up since its last listing."""
LIST_EVERY = 16
"""One task in this many (per slot process) lists the engine's images to remove."""


def _sweep(docker_host: str | None, run_id: str, built: list[str], listing: bool) -> None:
    try:
        engine = _engines.get(docker_host) or _engines.setdefault(docker_host, Engine(docker_host))
        found = engine.run_images(run_id, dead_too=True) if listing else []
        engine.sweep(run_id, {*found, *built})
    except EngineError as exc:  # the engine went away: the next sweep will do it
        log.warning("could not remove task %s's objects from %s: %s", run_id, docker_host, exc)


def later(docker_host: str | None, run_id: str, built: Iterable[str]) -> None:
    """Remove run ``run_id``'s containers and images (and ``built``) from the engine at
    ``docker_host`` in this process's clean-up thread."""
    global _executor, _swept
    with _lock:
        if _executor is None or _executor[0] != os.getpid():  # not the parent's, once forked
            _engines.clear()
            _executor = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="grader-sweep"))
            _swept = 0
        _swept = (_swept + 1) % LIST_EVERY
        listing = _swept == 0
        _executor[1].submit(_sweep, docker_host, run_id, list(built), listing)


def wait() -> None:
    """Wait for this process's clean-ups under way, then close their connections."""
    with _lock:
        current = _executor
    if current is not None and current[0] == os.getpid():
        current[1].shutdown(wait=True)
        for engine in _engines.values():
            engine.close()
        _engines.clear()


def _on_shutdown(**_: Any) -> None:
    wait()


worker_process_shutdown.connect(_on_shutdown, weak=False)

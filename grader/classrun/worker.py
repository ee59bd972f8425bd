"""``grade-worker``: a Docker host's slots on a department's queue (a Celery worker).

``grade-worker --queue redis://HOST:6379/0 -j N [--docker-host URL]`` grades N submissions at
once on its engine, each in a process of its own (pytest runs in each process's main
thread), with the same job code as a local run; N more processes finish tasks (their last
checks, their reports) while N run Docker stages (``grader.classrun.stageslots``). SIGTERM:
finish the tasks under way, then stop (Celery's warm shutdown); a worker killed outright
leaves its tasks to the others.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence

from grader import __version__
from grader.classrun import stageslots, tasks
from grader.classrun.jobs import warm_up
from grader.classrun.reuse import grader_digest
from grader.classrun.workers import default_jobs
from grader.engine import Engine
from grader.errors import EngineUnavailable


def parser() -> argparse.ArgumentParser:
    """The ``grade-worker`` command line."""
    p = argparse.ArgumentParser(
        prog="grade-worker",
        description="Grade the submissions of a Redis queue (grade PATH... --queue URL).",
    )
    p.add_argument(
        "--queue",
        required=True,
        metavar="redis://HOST:PORT/0",
        help="the Redis that the instructors' grade --queue sends to",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="slots: submissions graded at once (default: the cores, at most 4)",
    )
    p.add_argument(
        "--docker-host",
        default=None,
        metavar="URL",
        help="Docker engine to use (default: DOCKER_HOST or the local socket)",
    )
    p.add_argument(
        "--visibility-timeout",
        type=float,
        default=tasks.DEFAULT_VISIBILITY_S,
        metavar="S",
        help="seconds before a task of a lost worker goes to another "
        "(keep it above the longest --submission-timeout; default 3600)",
    )
    p.add_argument("--name", default=None, help="the worker's name (default: the host's)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every task")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p  # fmt: skip


def processes(slots: int) -> int:
    """The slot processes of a worker of ``slots`` stage slots: as many again to finish
    tasks (their last checks, report and answer, the next task's hand-over: 0.3 s, 0.6 s on a
    busy host) as to run stages, so that a freed stage slot finds a process waiting for it
    (with one spare process, a slot freed while it was still finishing stayed idle: 1.5 to
    2.6 slot-seconds per class of 20 on 2 slots, against 0.15 with two)."""
    return 2 * slots


def celery_argv(args: argparse.Namespace, slots: int) -> list[str]:
    """The ``celery worker`` arguments of these options (pure)."""
    name = args.name or f"grader-{os.getpid()}@{socket.gethostname()}"
    return [
        "worker",
        f"--concurrency={processes(slots)}",  # N stage slots, the others finish (stageslots)
        "--pool=prefork",
        f"--queues={tasks.QUEUE}",
        "--prefetch-multiplier=1",
        f"--hostname={name}",
        f"--loglevel={'INFO' if args.verbose else 'WARNING'}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker until it is stopped; returns the exit code."""
    args = parser().parse_args(argv)
    slots = args.jobs or default_jobs()
    if slots < 1:
        sys.stderr.write("error: -j/--jobs must be at least 1\n")
        return 2
    try:
        Engine(args.docker_host).close()
    except EngineUnavailable as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 3
    os.environ[tasks.DOCKER_HOST_VARIABLE] = args.docker_host or ""
    tasks.configure(tasks.app, args.queue, args.visibility_timeout)
    warm_up()  # pytest, testinfra, the templates: loaded once, before the slots fork
    where = args.docker_host or "the local engine"
    sys.stdout.write(f"grade-worker {grader_digest()}: {slots} slots on {where} "
                     f"({processes(slots)} processes: {slots} run Docker stages while the "
                     "others finish tasks)\n")  # fmt: skip
    sys.stdout.flush()
    folder = stageslots.make(slots)
    os.environ[stageslots.VARIABLE] = str(folder)
    try:
        tasks.app.worker_main(celery_argv(args, slots))
    finally:
        stageslots.remove(folder)
    return 0


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())

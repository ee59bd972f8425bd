"""The ``grade`` command line: parse the arguments, send the first build ahead, hand over.

Everything heavy (docker-py, the pipeline, pytest, the report templates) is loaded by
``grader.cli.command``, imported only once the build of a single-submission run is on its way
(``grader.engine.headstart``): this module imports the standard library alone. Exit codes: 0 grading
ran, 1 below ``--min-score``, 2 usage or lab file error, 3 no Docker engine, 4 internal
error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from grader import __version__
from grader.engine import cgroups, headgrpc, headstart
from grader.intake.urls import is_git_url
from grader.labels import new_run_labels


def parser() -> argparse.ArgumentParser:
    """The ``grade`` command line."""
    p = argparse.ArgumentParser(
        prog="grade",
        description="Build, run and probe Docker lab submissions; write a report for each.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a submission folder or .zip, a class folder (a Moodle export, folder or zip), "
        "or a git URL",
    )
    p.add_argument(
        "--lab",
        default="auto",
        help="lab id (see --list-labs), path to a lab .toml, or auto (default)",
    )
    p.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("reports"),
        help="folder for the reports (default: reports)",
    )
    p.add_argument(
        "--lang", choices=("fr", "en"), default=None, help="feedback language (default: the lab's)"
    )
    p.add_argument("--build-timeout", type=float, default=None, metavar="S")
    p.add_argument(
        "--builder",
        choices=("auto", "buildkit", "classic"),
        default=None,
        help="BuildKit where the engine offers it (auto, the lab's default), or one builder",
    )
    p.add_argument("--start-timeout", type=float, default=None, metavar="S")
    p.add_argument("--http-timeout", type=float, default=None, metavar="S")
    p.add_argument(
        "--submission-timeout",
        type=float,
        default=None,
        metavar="S",
        help="longest one submission may take, all stages together (default 900)",
    )
    p.add_argument("--memory", default=None, help="container memory limit (default 512m)")
    p.add_argument(
        "--pids-limit", type=int, default=None, metavar="N", help="container pids limit (256)"
    )
    p.add_argument("--cpus", type=float, default=None, help="container CPU limit (default 1)")
    p.add_argument(
        "--build-memory",
        type=_size,
        default=None,
        metavar="SIZE",
        help=f"memory of each build, swap included (default {cgroups.DEFAULT_MEMORY})",
    )
    p.add_argument(
        "--build-pids",
        type=int,
        default=None,
        metavar="N",
        help=f"processes of each build at once (default {cgroups.DEFAULT_PIDS})",
    )
    p.add_argument(
        "--build-cpus",
        type=float,
        default=None,
        metavar="N",
        help=f"CPU of each build, in cores (default {cgroups.DEFAULT_CPUS:g})",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="kept for compatibility: unchanged submissions always keep their report",
    )
    p.add_argument(
        "--docker-host",
        action="append",
        default=[],
        metavar="URL",
        help="Docker engine to use (default: DOCKER_HOST or the local socket); repeat it to "
        "spread the class over several engines",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="submissions graded at once (default: the cores, at most 4, per engine)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="grade every submission again, even when its report in --output is up to date",
    )
    p.add_argument(
        "--regrade",
        action="store_true",
        help="compare with the reports already in --output: print who moved, write regrade.json",
    )
    p.add_argument(
        "--min-score",
        type=float,
        default=None,
        help="exit with status 1 when a submission scores below this",
    )
    p.add_argument(
        "--repos",
        type=Path,
        metavar="FILE",
        help="git URLs to grade, one a line (or CSV url,student,email)",
    )
    p.add_argument(
        "--deadline",
        metavar="ISO-8601",
        help="grade each git repository's last commit at or before this date",
    )
    p.add_argument(
        "--roster",
        type=Path,
        metavar="CSV",
        help="GitHub Classroom's classroom_roster.csv: names for <assignment>-<user>",
    )
    p.add_argument(
        "--shard",
        metavar="K/N",
        help="grade only the K-th of N parts of the class (CI matrices; join with grade merge)",
    )
    p.add_argument(
        "--queue",
        metavar="redis://HOST:PORT/0",
        help="send the submissions to the grade-worker hosts of this Redis queue",
    )
    p.add_argument("--list-labs", action="store_true", help="list the built-in labs and exit")
    p.add_argument("--explain", metavar="CHECK_ID", help="describe a check and its parameters")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the grader does")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p  # fmt: skip


def _size(text: str) -> str:
    """A size flag (``2g``, ``512m``) checked when parsed."""
    try:
        if cgroups.size_bytes(text) >= 64 << 20:
            return text
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a size of at least 64m, like 2g")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def start_ahead(args: argparse.Namespace) -> headstart.HeadStart | headgrpc.GrpcHead | str:
    """The build of the one submission in ``args``, sent now (the classic builder's, or
    BuildKit's from a thread, which asks the engine first), or why it is not."""
    if args.regrade or args.list_labs or args.explain or (args.jobs is not None and args.jobs < 1):
        return "not a plain grading run"
    if args.urls or args.repos:
        return "git repositories to fetch first"
    if args.shard or args.queue:
        return "a shard or a queue: maybe not this machine's to build"
    labels = new_run_labels()
    limits = (
        cgroups.size_bytes(args.build_memory or cgroups.DEFAULT_MEMORY),
        args.build_pids or cgroups.DEFAULT_PIDS,
        args.build_cpus or cgroups.DEFAULT_CPUS,
    )
    if args.builder != "classic":  # auto (the labs' default) or buildkit
        return headgrpc.begin(args.paths, args.output, args.force, args.docker_host, labels, limits)
    return headstart.begin(args.paths, args.output, args.force, args.docker_host, labels, limits)


def merge_parser() -> argparse.ArgumentParser:
    """The ``grade merge`` command line."""
    p = argparse.ArgumentParser(
        prog="grade merge",
        description="Join the report folders of a class's shards (grade --shard K/N) into one.",
    )
    p.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="a shard's --output")
    p.add_argument("--output", "-o", type=Path, default=Path("reports"),
                   help="folder for the joined reports (default: reports)")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="log what the grader does")
    return p


def main(argv: Sequence[str] | None = None, console: bool = False) -> int:
    """Run the command line; returns the exit code (never raises for a user's mistake).
    ``console``: the process is the command's own (``main_entry``), not a caller's.

    The collector is off while the grader loads (a cold TP6 BIS: the grader's CPU 0.84 ->
    0.75 s, most of it while its build needs the same cores); in its own process, what
    loaded is then frozen, out of every later collection's walk (0.70 s)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        merging = merge_parser().parse_args(argv[1:])
        from grader.cli import command

        return command.merge(merging)
    args = parser().parse_args(argv)
    args.urls = [str(p) for p in args.paths if is_git_url(str(p))]
    args.paths = [Path(p) for p in args.paths if not is_git_url(str(p))]
    head: headstart.HeadStart | headgrpc.GrpcHead | str = "interrupted"
    collecting = gc.isenabled()
    gc.disable()  # what loads lives for the run: nothing for a collection to free
    try:
        head = start_ahead(args)
        if isinstance(head, headgrpc.GrpcHead):  # its thread alone, until the build is sent
            head.decided.wait(headgrpc.SEND_WAIT_S)  # and the engine has read its context
            head.read.wait(headgrpc.READ_WAIT_S)
            from grader.cli import idleload  # the rest of the grader, beside that build's steps

            idleload.load(head)
        from grader.cli import command  # the rest of the grader, while that build runs

        if console:  # its own process: no later collection walks what was loaded
            gc.freeze()
    except KeyboardInterrupt:
        if not isinstance(head, str):
            head.abandon()
        print("interrupted: the reports already written are kept", file=sys.stderr)
        return 130
    finally:
        if collecting:
            gc.enable()
    return command.run(args, head)


def main_entry() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    ending: list[int] = []
    if not atexit._ncallbacks():  # none registered before it (a sitecustomize's, coverage's)
        atexit.register(_without_teardown, ending)  # the first registered: the last to run
    code = main(console=True)
    # The interpreter's last collection walks every object pytest, docker-py and jinja2 made
    # (about 50 ms, on every run, after all the work is done): frozen objects are skipped,
    # and the operating system takes the memory back anyway.
    gc.freeze()
    ending.append(code)
    sys.exit(code)


def _without_teardown(ending: list[int]) -> None:
    """The last exit handler of a run that returned its exit code (``ending``): the threads
    are joined and every other handler has run by now; what remains is the interpreter
    tearing down its modules one object at a time (8 ms after a grading run) for a process
    whose memory the operating system takes back anyway. The output is flushed, then the
    process ends with that code. After an exception nothing is skipped, nor when a handler
    was registered before this one (it would run after it: ``main_entry``)."""
    if not ending:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more to write there
            stream.flush()
    os._exit(ending[0])

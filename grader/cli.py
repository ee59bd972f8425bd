"""Parse arguments, call ``batch``; the only place that prints errors and picks exit codes.

Exit codes: 0 grading ran, 1 below ``--min-score``, 2 usage or lab file error, 3 no Docker
engine, 4 internal error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import signal
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from grader import __version__
from grader.batch import run_class
from grader.checkparams import PARAMS
from grader.errors import GraderError, UsageError
from grader.lab import builtin_labs, load_lab_file
from grader.progress import delta_lines, progress_for
from grader.settings import Options
from grader.workers import EnginePool, default_jobs


def parser() -> argparse.ArgumentParser:
    """The ``grade`` command line."""
    p = argparse.ArgumentParser(
        prog="grade",
        description="Build, run and probe Docker lab submissions; write a report for each.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="a submission folder, or a class folder holding one folder per student",
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
    p.add_argument("--list-labs", action="store_true", help="list the built-in labs and exit")
    p.add_argument("--explain", metavar="CHECK_ID", help="describe a check and its parameters")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the grader does")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p  # fmt: skip


def _list_labs() -> None:
    for lab_id, path in builtin_labs().items():
        lab = load_lab_file(path)
        total = sum(c.max_score for c in lab.checks)
        print(f"{lab_id:10} {total:g} points, {len(lab.checks)} checks  {lab.title}")


def _explain(check_id: str) -> None:
    if check_id not in PARAMS:
        raise UsageError(f"unknown check {check_id!r}; known: {', '.join(PARAMS)}")
    cls = PARAMS[check_id]
    print(f"{check_id}: {(cls.__doc__ or '').strip()}")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default
        print(f"  {f.name} ({hints[f.name]}, default {default!r}): {f.metadata.get('help', '')}")
    used = [lab for lab, p in builtin_labs().items() if load_lab_file(p).check(check_id)]
    print(f"  used by: {', '.join(used) or 'no built-in lab'}")


def _safe(text: str) -> str:
    """Text that any terminal can print (non-UTF-8 file names escaped)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises for a user's mistake)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        if args.list_labs:
            _list_labs()
            return 0
        if args.explain:
            _explain(args.explain)
            return 0
        if not args.paths:
            raise UsageError("give at least one PATH (a submission or a class folder)")
        options = Options(
            lang=args.lang,
            build_timeout_s=args.build_timeout,
            start_timeout_s=args.start_timeout,
            http_timeout_s=args.http_timeout,
            submission_timeout_s=args.submission_timeout,
            memory=args.memory,
            pids=args.pids_limit,
            cpus=args.cpus,
        )
        if args.jobs is not None and args.jobs < 1:
            raise UsageError("-j/--jobs must be at least 1")
        pool = EnginePool.connect(args.docker_host)
        jobs = args.jobs or default_jobs(len(pool.engines))
        try:
            with progress_for() as progress:
                result = run_class(args.paths, args.lab, options, args.output, pool, progress,
                                   jobs=jobs, force=args.force, regrade=args.regrade)  # fmt: skip
        finally:
            pool.close()
        reports = result.reports
        if args.regrade:
            print("\n".join(delta_lines(result.deltas)))
    except KeyboardInterrupt:
        print("interrupted: the reports already written are kept", file=sys.stderr)
        return 130
    except GraderError as exc:
        print(f"error: {_safe(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a bug of ours: one line here, the traceback with -v
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        print(f"internal error: {_safe(repr(exc))} (run with -v for details)", file=sys.stderr)
        return 4
    mean = sum(r.score for r in reports) / max(len(reports), 1)
    print(f"{len(reports)} graded, reports in {args.output}/ (mean score {mean:.1f})")
    if args.min_score is not None and any(r.score < args.min_score for r in reports):
        return 1
    return 0


def main_entry() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    code = main()
    # The interpreter's last collection walks every object pytest, docker-py and jinja2 made
    # (about 50 ms, on every run, after all the work is done): frozen objects are skipped,
    # and the operating system takes the memory back anyway.
    gc.freeze()
    sys.exit(code)

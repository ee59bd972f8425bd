"""What ``grade`` does once its arguments are parsed: grade, print, pick the exit code.

The only place that prints errors and picks exit codes; ``grader.cli.entry`` parses the arguments
and sends the first build ahead before importing this module (and, through it, everything
heavy).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING

from grader.classrun.batch import run_class
from grader.classrun.merge import merge as merge_shards
from grader.classrun.shards import Shard
from grader.classrun.workers import EnginePool, default_jobs
from grader.cli.progress import PlainProgress, delta_lines
from grader.engine import Engine
from grader.engine.headgrpc import GrpcHead
from grader.engine.headstart import HeadStart
from grader.errors import GraderError, UsageError
from grader.facts.results import SubmissionReport
from grader.grading.settings import Options
from grader.intake.sources import IntakeOptions, parse_deadline
from grader.labs.params import PARAMS
from grader.labs.spec import builtin_labs, load_lab_file
from grader.report.classroom import append_result_line

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger(__name__)


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


def _discard(head: HeadStart | GrpcHead) -> None:
    """Cancel a build sent ahead that no engine was given (the run failed before), and remove
    the image it made if it finished anyway."""
    with contextlib.suppress(GraderError):
        engine = Engine()
        try:
            engine.discard(head)
        finally:
            engine.close()
    head.abandon()  # no engine answers: cancel it at least (nothing to do once discarded)


def intake_options(args: argparse.Namespace) -> IntakeOptions:
    """Where the class comes from besides its folders: git URLs, roster, deadline.

    Raises:
        UsageError: a deadline that is not ISO 8601.
    """
    try:
        deadline = parse_deadline(args.deadline) if args.deadline else None
    except ValueError as exc:
        raise UsageError(f"--deadline {args.deadline!r}: not an ISO 8601 date ({exc})") from exc
    return IntakeOptions(tuple(args.urls), args.repos, args.roster, deadline)


def run(args: argparse.Namespace, head: HeadStart | GrpcHead | str) -> int:
    """Grade what ``args`` names; ``head``: the build sent ahead, or why there is none.
    Returns the exit code (never raises for a user's mistake)."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    if not isinstance(head, str):
        log.info("build of %s sent ahead, before the grader loaded", head.context.name)
    else:
        log.info("no build sent ahead: %s", head)
    try:
        if args.list_labs:
            _list_labs()
            return 0
        if args.explain:
            _explain(args.explain)
            return 0
        if not (args.paths or args.urls or args.repos):
            raise UsageError("give at least one PATH (a submission, a class folder or a git URL)")
        intake = intake_options(args)
        options = Options(
            lang=args.lang,
            build_timeout_s=args.build_timeout,
            builder=args.builder,
            start_timeout_s=args.start_timeout,
            http_timeout_s=args.http_timeout,
            submission_timeout_s=args.submission_timeout,
            memory=args.memory,
            pids=args.pids_limit,
            cpus=args.cpus,
            build_memory=args.build_memory,
            build_pids=args.build_pids,
            build_cpus=args.build_cpus,
        )
        if args.jobs is not None and args.jobs < 1:
            raise UsageError("-j/--jobs must be at least 1")
        shard = Shard.parse(args.shard) if args.shard else None
        if args.queue:
            return _queued(args, options, intake, shard)
        pool = EnginePool.connect(args.docker_host)
        labels = None
        if not isinstance(head, str):
            pool.engines[0].expect(head)  # the same socket: see headstart.engine_socket
            labels, head = head.labels, "given to the engine"
        jobs = args.jobs or default_jobs(len(pool.engines))
        try:
            with progress_for() as progress:
                result = run_class(args.paths, args.lab, options, args.output, pool, progress,
                                   jobs=jobs, force=args.force, regrade=args.regrade,
                                   labels=labels, intake=intake, shard=shard)  # fmt: skip
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
    finally:
        if not isinstance(head, str):
            _discard(head)
    return _close(args, reports)


def _queued(
    args: argparse.Namespace, options: Options, intake: IntakeOptions, shard: Shard | None
) -> int:
    """``grade --queue``: the class graded by the queue's workers, written here."""
    from grader.classrun.remote import run_queued  # celery: only for a queued run

    with progress_for() as progress:
        result = run_queued(args.paths, args.lab, options, args.output, args.queue, progress,
                            force=args.force, regrade=args.regrade, intake=intake,
                            shard=shard)  # fmt: skip
    if args.regrade:
        print("\n".join(delta_lines(result.deltas)))
    return _close(args, result.reports)


def _close(args: argparse.Namespace, reports: list[SubmissionReport]) -> int:
    """The run's last line, Classroom's output and the exit code."""
    if os.environ.get("GITHUB_OUTPUT") and reports:
        append_result_line(Path(os.environ["GITHUB_OUTPUT"]), reports)
    mean = sum(r.score for r in reports) / max(len(reports), 1)
    print(f"{len(reports)} graded, reports in {args.output}/ (mean score {mean:.1f})")
    if args.min_score is not None and any(r.score < args.min_score for r in reports):
        return 1
    return 0


def merge(args: argparse.Namespace) -> int:
    """``grade merge DIR...``: join shards' report folders; returns the exit code."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        reports = merge_shards(args.folders, args.output)
    except GraderError as exc:
        print(f"error: {_safe(str(exc))}", file=sys.stderr)
        return exc.exit_code
    print(f"{len(reports)} reports joined in {args.output}/ from {len(args.folders)} shards")
    return 0


def progress_for(console: Console | None = None) -> PlainProgress:
    """The live display when stdout (or ``console``) is a terminal, else the plain lines; off
    a terminal, ``rich`` is not even loaded (it costs start-up time)."""
    if console is None and not sys.stdout.isatty():
        return PlainProgress()
    from grader.cli.live import LiveProgress, terminal_console

    console = console or terminal_console()
    return LiveProgress(console) if console.is_terminal else PlainProgress()

"""``python -m bench``: parse the options, run the phases, print the table, write the JSON;
everything created is removed at the end, also on Ctrl-C."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bench.dockerio import clean_up, remove_build_cache, server_version
from bench.document import assemble, write
from bench.gradearm import capabilities, startup_seconds, stop_all
from bench.queuearm import queue_lines, queue_runs
from bench.runner import Bench, Config, safe_submission
from bench.table import render

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
DEFAULT_ONLY = ("tp6-ok", "tp6bis-ok", "tp6bis-no-sigterm-listener")
"""The correct bundled submissions; the last one is a Node app without a SIGTERM listener."""


def parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time the grader against the raw Docker floor on the same submissions.",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="repeats of each pair (default 15) and of the queue's arms (default 7)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="1 repeat, tp6-ok only, a class of 4 made from it, no second engine (a smoke run)",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"a submission to time side by side (repeatable; default {', '.join(DEFAULT_ONLY)})",
    )
    p.add_argument(
        "--class-size",
        type=int,
        default=None,
        metavar="N",
        help="students in the generated class (default 30, 4 with --quick; 0: none)",
    )
    p.add_argument(
        "--class-from",
        action="append",
        metavar="NAME",
        help="a submission the class is generated from (repeatable; default: the --only "
        "ones, which must serve a 200: the raw floor runs the class too)",
    )
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON file")
    p.add_argument(
        "--no-queue",
        action="store_true",
        help="skip the queue's runs (grade --queue and grade-worker over Redis)",
    )
    p.add_argument(
        "--queue-only",
        action="store_true",
        help="only the queue's runs (no side-by-side submissions, no class runs against the "
        "floor); --repeat alternates its arms that many times (default 3)",
    )
    p.add_argument(
        "--queue-jobs",
        type=int,
        default=2,
        metavar="N",
        help="slots of the queue's worker, and -j of the local run it is compared with (default 2)",
    )
    p.add_argument(
        "--second-engine",
        metavar="URL",
        help="a second Docker engine for the two-worker queue run (default: the bench starts "
        "a private dockerd of its own, removed at the end)",
    )
    p.add_argument(
        "--no-second-engine",
        action="store_true",
        help="skip the two-worker queue run (no second dockerd is started)",
    )
    p.add_argument(
        "--grade",
        type=Path,
        default=Path(sys.executable).parent / "grade",
        help="the grade command (default: the one next to this Python)",
    )
    p.add_argument(
        "--submissions",
        type=Path,
        default=ROOT / "submissions",
        help="the folder of bundled submissions",
    )
    return p  # fmt: skip


def config(args: argparse.Namespace, work: Path, run_id: str) -> Config:
    """The run's configuration from the options (``--quick`` fills what was not given)."""
    only = tuple(args.only or (("tp6-ok",) if args.quick else DEFAULT_ONLY))
    sources = tuple(args.class_from or only)
    # pip's and npm's download times and BuildKit's cache lookups move a cold build by 0.2 to
    # 0.4 s from one pair to the next: with 3 pairs, the ratio of medians moved by +-0.05
    # between runs of the same code, with 7 by +-0.03; 15 pairs add 3 minutes to the run. The
    # queue's arms each grade a class: 7 of them
    queue = args.repeat or (1 if args.quick else 3 if args.queue_only else 7)
    repeat = args.repeat or (1 if args.quick else 15)
    size = args.class_size if args.class_size is not None else (4 if args.quick else 30)
    return Config(args.grade, args.submissions, only, sources, repeat, size, work, run_id, queue)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit code (0 measured, 2 usage, 130 interrupted)."""
    args = parser().parse_args(argv)
    if not args.grade.exists():
        print(f"error: no grade command at {args.grade} (run make setup)", file=sys.stderr)
        return 2
    missing = [n for n in (args.only or []) if not (args.submissions / n).is_dir()]
    if missing:
        print(f"error: no submission {', '.join(missing)} in {args.submissions}", file=sys.stderr)
        return 2
    run_id = uuid.uuid4().hex[:12]
    work = Path(tempfile.mkdtemp(prefix=f"bench-{run_id}-"))
    cfg = config(args, work, run_id)
    caps = capabilities(cfg.grade)
    bench = Bench(cfg, caps)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        meta = {
            "run_id": run_id,
            "started": started,
            "machine": {"hostname": socket.gethostname(), "cpus": os.cpu_count(),
                        "docker": server_version()},
            "options": {"repeat": cfg.repeat, "only": list(cfg.only),
                        "class_size": cfg.class_size, "class_from": list(cfg.class_sources)},
            "grader": {"startup_s": startup_seconds(cfg.grade),
                       "loaded_s": startup_seconds(cfg.grade, flag="--list-labs"),
                       "jobs_flag": caps.jobs, "force_flag": caps.force},
            "notes": [] if caps.jobs and caps.force else [
                "the installed grade lacks " + " and ".join(
                    f for f, ok in (("-j", caps.jobs), ("--force", caps.force)) if not ok)
                + ": measured without it"],
        }  # fmt: skip
        submissions = []
        for name in () if args.queue_only else cfg.only:
            print(f"measuring {name} ({cfg.repeat} repeat(s))...", file=sys.stderr, flush=True)
            submissions.append(safe_submission(bench, name))
        klass = None
        if cfg.class_size > 0 and not args.queue_only:
            print(f"grading a class of {cfg.class_size}...", file=sys.stderr, flush=True)
            klass = bench.class_runs()
        doc = assemble(meta, submissions, klass)
        if cfg.class_size > 0 and not args.no_queue:
            print(f"grading a class of {cfg.class_size} through the queue...", file=sys.stderr,
                  flush=True)  # fmt: skip
            doc["queue"] = queue_runs(
                # a quick run starts no second dockerd (the smoke test's run)
                bench,
                args.queue_jobs,
                args.second_engine,
                not (args.no_second_engine or args.quick),
            )
        write(doc, args.output)
        if not args.queue_only:
            print(render(doc))
        if "queue" in doc:
            print("\n".join(queue_lines(doc["queue"])))
        print(f"\nwritten: {args.output}", file=sys.stderr)
        return 0
    except KeyboardInterrupt:
        print("interrupted: removing what the benchmark created", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip clean-up
        stop_all()
        clean_up(run_id, bench.grade_pids)
        remove_build_cache(work)
        shutil.rmtree(work, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main_entry() -> int:
    """``python -m bench``: SIGTERM is handled as Ctrl-C (clean-up runs)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    return main()

"""Grade a class: enumerate submissions, parallel workers, reuse, clean-up by label.

The class run connects to its engines once and grades each submission: worker threads run its
Docker stages ahead (``grader.classrun.workers``) on the least-loaded engine while the main
thread runs the rubric, in pytest, on each submission in turn (pytest is not thread-safe), as
soon as its pipeline exists, and writes its reports as soon as it is graded
(``grader.classrun.jobs``). A submission whose files, lab file, options and grader version did
not change since the report in ``--output`` keeps that report (``grader.classrun.reuse``).
This run's images are removed at the end (not earlier: later students reuse the build cache of
earlier ones; ``grader.classrun.cleanup``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from grader.classrun.cleanup import Cleanup
from grader.classrun.jobs import WARM_UP_WAIT_S, Graded, Job, Listener, Run, labs_of, warm_up
from grader.classrun.reuse import previous_report
from grader.classrun.shards import Shard, duration_of, select, write_shard_file
from grader.classrun.workers import EnginePool
from grader.engine import Engine
from grader.facts.results import SubmissionReport
from grader.grading.settings import Options
from grader.intake.sources import IntakeOptions, Source, open_class
from grader.labels import LABEL_RUN, new_run_labels
from grader.report import write_atomic, write_class
from grader.report.regrade import Delta, compare_class

__all__ = ["ClassResult", "Graded", "Listener", "grade_class", "run_class"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassResult:
    """What a class run produced."""

    reports: list[SubmissionReport]
    """One report per submission, in the order of the submissions."""
    deltas: list[Delta]
    """With ``regrade``: each submission against its previous report (``Delta.moved``)."""


def previous_reports(output: Path) -> dict[str, SubmissionReport]:
    """Every report an earlier run left in ``output``, by submission name."""
    found = {}
    for path in sorted(output.glob("*/report.json")):
        report = previous_report(output, path.parent.name)
        if report is not None:
            found[report.submission] = report
    return found


def shard_of(folders: list[Source], shard: Shard, output: Path) -> list[Source]:
    """The sources shard ``shard`` grades (``shard.json`` written in ``output``)."""
    names = [s.name for s in folders]
    durations = {
        n: d for n, r in previous_reports(output).items() if (d := duration_of(r)) is not None
    }
    chosen = select(names, shard, durations)
    write_shard_file(output, shard, names)
    return [s for s in folders if s.name in chosen]


def write_deltas(deltas: list[Delta], output: Path) -> Path:
    """``regrade.json``: the deltas of the submissions that moved."""
    moved = [d.to_dict() for d in deltas if d.moved]
    path = output / "regrade.json"
    write_atomic(path, json.dumps({"deltas": moved}, indent=2, ensure_ascii=False) + "\n")
    return path


def run_class(
    paths: list[Path],
    lab_ref: str,
    options: Options,
    output: Path,
    engines: Engine | EnginePool,
    listener: Listener | None = None,
    *,
    jobs: int = 1,
    force: bool = False,
    regrade: bool = False,
    labels: dict[str, str] | None = None,
    intake: IntakeOptions | None = None,
    shard: Shard | None = None,
    one_by_one: bool = False,
) -> ClassResult:
    """Grade every submission under ``paths`` into ``output``, ``jobs`` at once; one
    submission's failure never stops the others.

    Raises:
        UsageError, LabFileError: bad paths or lab (before anything is graded).

    ``labels``: the run's labels when the command line made them already (a build it sent
    ahead carries them: ``grader.engine.headstart``); new ones otherwise. ``intake``: git URLs,
    roster, deadline (``grader.intake``). ``shard``: grade only that part of the class
    (``grader.classrun.shards``). ``one_by_one``: each submission starts once the one before
    is graded and the listener told (``grade_class``); otherwise, even at ``jobs=1``, a worker
    runs the next one's Docker stages while the main thread checks the one before, closes it
    and writes its reports (one submission on Docker stages at a time per job).
    """
    with contextlib.ExitStack() as stack:  # an unpacked Moodle export lives for the run
        intake = intake or IntakeOptions()
        labs = labs_of(lab_ref)  # a bad lab is refused before anything is built
        folders = open_class(paths, intake, stack, labs)
        if shard is not None:
            folders = shard_of(folders, shard, output)
        return _grade(folders, lab_ref, options, output, engines, listener, jobs=jobs,
                      force=force, regrade=regrade, labels=labels, intake=intake,
                      one_by_one=one_by_one)  # fmt: skip


def _grade(
    folders: list[Source],
    lab_ref: str,
    options: Options,
    output: Path,
    engines: Engine | EnginePool,
    listener: Listener | None,
    *,
    jobs: int,
    force: bool,
    regrade: bool,
    labels: dict[str, str] | None,
    intake: IntakeOptions,
    one_by_one: bool,
) -> ClassResult:
    pool = engines if isinstance(engines, EnginePool) else EnginePool([engines])
    jobs = 1 if one_by_one else max(1, jobs)
    labels = labels or new_run_labels()
    run = Run(lab_ref, options, output, pool, labels, listener or Listener(), force,
              ahead=not one_by_one, cleanup=Cleanup(pool, labels[LABEL_RUN]),
              free=list(range(jobs))[::-1], intake=intake)  # fmt: skip
    before = previous_reports(output) if regrade else {}
    run.listener.started(len(folders), jobs)
    reports: list[SubmissionReport] = []
    pending: dict[int, tuple[Future[Job], Future[Job]]] = {}
    executor = None if one_by_one else ThreadPoolExecutor(jobs, thread_name_prefix="grader")
    run.cleanup.start()
    warm = False
    sweeps: list[threading.Thread] = []  # the end's clean-up, begun once the last is closed

    def sweep_now() -> None:
        sweeps.append(run.cleanup.finish())  # while the last reports are written

    try:
        for i, path in enumerate(folders):
            if executor is None:
                job = run.prepare(path)
            else:  # keep the workers ahead, but not by so much that containers pile up
                for j in range(i, min(i + 2 * jobs, len(folders))):
                    if j not in pending:
                        admitted: Future[Job] = Future()
                        task = executor.submit(run.prepare, folders[j], admitted)
                        pending[j] = (admitted, task)
                admitted, _ = pending.pop(i)
                job = admitted.result()
                if not warm and job.report is None:  # the first one graded, while it builds
                    job.waiting.wait(WARM_UP_WAIT_S)  # (none at all when every report is reused)
                    warm_up()
                    warm = True
                if i == len(folders) - 1:
                    run.cleanup.list_when(job.built, job.quiet)
            graded = run.finish(job, sweep_now if i == len(folders) - 1 else lambda: None)
            reports.append(graded.report)
            run.listener.graded(graded)
    finally:
        run.stop.set()
        if pending:
            run.cleanup.now()  # interrupted: stop the containers the workers are waiting on
        for admitted, task in pending.values():
            if not task.cancel():
                with contextlib.suppress(Exception):
                    task.result()
                    run.close(admitted.result())
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        deltas = compare_class(before, reports) if regrade else []
        sweep = sweeps[0] if sweeps else run.cleanup.finish()  # while the reports are written
        if reports:  # once per run, every report (reused ones too), also when interrupted
            write_class(reports, output, deltas)
        sweep.join()
    if regrade:
        write_deltas(deltas, output)
    return ClassResult(reports, deltas)


def grade_class(
    paths: list[Path],
    lab_ref: str,
    options: Options,
    output: Path,
    engine: Engine,
    on_graded: Callable[[Graded], None] = lambda g: None,
    resume: bool = False,
) -> list[SubmissionReport]:
    """Grade a class one submission at a time (``run_class`` with ``jobs=1``, ``one_by_one``:
    the next one starts once ``on_graded`` returned); ``resume`` is kept for compatibility:
    unchanged submissions always keep their report."""
    listener = _Callback(on_graded)
    return run_class(paths, lab_ref, options, output, engine, listener, one_by_one=True).reports


class _Callback(Listener):
    """A listener that hands each graded submission to a function."""

    def __init__(self, on_graded: Callable[[Graded], None]) -> None:
        self.on_graded = on_graded

    def graded(self, graded: Graded) -> None:
        """Call the function."""
        self.on_graded(graded)

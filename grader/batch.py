"""Grade a class: enumerate submissions, parallel workers, reuse, start-of-run sweep by label.

The class run connects to its engines once, sweeps leftovers of dead runs by label, and grades
each submission: worker threads run its Docker stages ahead (``grader.workers``) on the
least-loaded engine while the main thread runs the rubric, in pytest, on each prepared
submission in turn (pytest is not thread-safe) and writes its reports as soon as it is graded.
A submission whose files, lab file, options and grader version did not change since the
report in ``--output`` keeps that report (``grader.reuse``). This run's images are removed at
the end (not earlier: later students reuse the build cache of earlier ones).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grader.archive import intake, submission_name
from grader.cleanup import Cleanup
from grader.engine import LABEL_RUN, Engine, new_run_labels
from grader.errors import (
    EngineUnavailable,
    LabFileError,
    SubmissionRejected,
    UsageError,
)
from grader.lab import LabSpec, choose_lab, load_lab
from grader.pipeline import Pipeline
from grader.regrade import Delta, compare_class
from grader.report import (
    format_exception,
    write_all,
    write_atomic,
    write_class,
    write_grader_log,
)
from grader.report import warm_up as warm_up_reports
from grader.results import SubmissionReport, assemble
from grader.reuse import key_of, previous_report, reusable
from grader.settings import Options
from grader.submission import load_submission, resolve
from grader.verdicts import error_report, rejected_report
from grader.workers import EnginePool, prepare, stages_for

__all__ = ["ClassResult", "Graded", "Listener", "grade_class", "run_class"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Graded:
    """One line of the class run, for the command line to print."""

    report: SubmissionReport
    seconds: float
    folder: Path
    reused: bool = False
    """The report of an earlier run, kept because nothing it depends on changed."""
    engine: str = ""
    """The engine it was built and run on (empty when reused or never built)."""


@dataclass(frozen=True)
class ClassResult:
    """What a class run produced."""

    reports: list[SubmissionReport]
    """One report per submission, in the order of the submissions."""
    deltas: list[Delta]
    """With ``regrade``: each submission against its previous report (``Delta.moved``)."""


class Listener:
    """Hears about a class run as it goes; this one hears nothing (see ``grader.progress``)."""

    def started(self, total: int, workers: int) -> None:
        """The run starts: ``total`` submissions, ``workers`` at once."""

    def step(self, worker: int, submission: str, step: str) -> None:
        """Worker ``worker`` (0-based; -1: the main thread, running the checks) is at
        ``step`` of ``submission`` (called from any thread)."""

    def graded(self, graded: Graded) -> None:
        """One submission is graded and its reports written (main thread)."""


@dataclass
class Job:
    """One submission on its way: prepared by a worker, then checked by the main thread."""

    path: Path
    name: str
    started: float = field(default_factory=time.monotonic)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    lab: LabSpec | None = None
    key: str = ""
    pipeline: Pipeline | None = None
    engine: int | None = None
    report: SubmissionReport | None = None
    """Known without running the rubric (reused, refused, unknown lab, grader failure)."""
    reused: bool = False
    tracebacks: list[str] = field(default_factory=list)
    prepared: threading.Event = field(default_factory=threading.Event)
    """Set when no worker works on the job any more (it may then be closed)."""
    waiting: threading.Event = field(default_factory=threading.Event)
    """Set once its worker mostly waits for Docker (its build is sent) or is done."""
    built: threading.Event = field(default_factory=threading.Event)
    """Set once it will build no more images (or never will)."""


@dataclass
class Run:
    """Everything the jobs of one class run share."""

    lab_ref: str
    options: Options
    output: Path
    pool: EnginePool
    labels: dict[str, str]
    listener: Listener
    force: bool
    ahead: bool
    """Run the Docker stages when preparing (the workers), not lazily in pytest."""
    cleanup: Cleanup
    stop: threading.Event = field(default_factory=threading.Event)
    free: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def prepare(self, path: Path, admitted: Future[Job] | None = None) -> Job:
        """Locate the submission, reuse its report or run its stages (any thread); ``admitted``
        gets the job as soon as its pipeline exists, before its stages run, so that the main
        thread can run the rubric while they do (its checks wait for the stages they read).

        Raises:
            UsageError, LabFileError: the lab given cannot be used.
        """
        with self.lock:
            worker = self.free.pop() if self.free else 0
        job = Job(path, submission_name(path))
        try:
            self._prepare(job, worker, admitted)
        except SubmissionRejected as exc:
            lab = None if self.lab_ref == "auto" else load_lab(self.lab_ref)
            job.report = rejected_report(job.name, lab, exc)
        except (UsageError, LabFileError, EngineUnavailable) as exc:
            if admitted is None or not admitted.done():
                self.close(job)
            if admitted is not None and not admitted.done():
                admitted.set_exception(exc)
            raise
        except Exception as exc:  # a grader bug: this submission's report says so
            job.tracebacks.append(format_exception(exc))
            if job.pipeline is not None:
                pipeline = job.pipeline
                job.report = error_report(pipeline.submission, pipeline.lab, self.options, exc)
            else:
                job.report = assemble(job.name, "unknown", [], notes=(f"grader error: {exc}",))
        except BaseException:  # interrupted
            if admitted is None or not admitted.done():
                self.close(job)
            raise
        finally:
            self.listener.step(worker, job.name, "ready, waiting for its checks")
            if job.pipeline is not None:  # stages the checks still run show on their own row
                job.pipeline.on_stage = lambda stage: self.listener.step(-1, job.name, stage)
            with self.lock:
                self.free.append(worker)
            job.prepared.set()
            job.waiting.set()
            job.built.set()
            if admitted is not None and not admitted.done():
                admitted.set_result(job)
        return job

    def _prepare(self, job: Job, worker: int, admitted: Future[Job] | None) -> None:
        self.listener.step(worker, job.name, "intake")
        folder = job.stack.enter_context(intake(job.path))
        job.lab = lab = choose_lab(folder, self.lab_ref)
        if lab is None:
            note = "cannot tell which lab this submission is for: grade it with --lab ID"
            job.report = assemble(job.name, "unknown", [], notes=(note,))
            return
        sub = load_submission(folder, job.name)
        job.key = key_of(sub, lab, self.options)
        previous = None if self.force else previous_report(self.output, job.name)
        if previous is not None and reusable(previous, job.key):
            job.report, job.reused = previous, True
            return
        job.engine = self.pool.pick()
        engine = self.pool.engines[job.engine]
        job.pipeline = Pipeline(sub, lab, lambda: engine, self.labels, self.options)
        job.pipeline.on_stage = lambda stage: self.listener.step(worker, job.name, stage)
        job.pipeline.on_build_sent = job.waiting.set
        if self.ahead:
            if admitted is not None:
                admitted.set_result(job)
            prepare(job.pipeline, stages_for(lab), self.stop, job.built.set)

    def finish(self, job: Job) -> Graded:
        """Run the rubric on a submission and write its reports (main thread); its stages may
        still be running ahead in a worker: the checks wait for those they read, and the job
        is closed only once the worker is done with it."""
        from grader.single import grade_loaded  # pytest: see WARM_UP

        self.listener.step(-1, job.name, "checks")
        where = "" if job.engine is None else self.pool.engines[job.engine].base_url
        try:
            report = job.report
            if report is None and job.pipeline is not None:
                pipeline = job.pipeline
                try:
                    report, tracebacks = grade_loaded(
                        pipeline.submission,
                        pipeline.lab,
                        self.options,
                        lambda: pipeline.engine,
                        self.labels,
                        prepared=pipeline,
                    )
                    job.tracebacks.extend(tracebacks)
                except Exception as exc:  # a grader bug must not stop the class
                    report = error_report(pipeline.submission, pipeline.lab, self.options, exc)
                    job.tracebacks.append(format_exception(exc))
                report = dataclasses.replace(report, reuse_key=job.key)
            assert report is not None
        except BaseException:  # interrupted: stop the stages the worker is waiting on
            self.stop.set()
            self.cleanup.now()
            raise
        finally:
            job.prepared.wait()
            self.close(job)
        target = self.output / report.submission
        if not job.reused:
            target = write_all(report, self.output)
            write_grader_log(target, job.tracebacks)
        seconds = 0.0 if job.reused else time.monotonic() - job.started
        return Graded(report, seconds, target, job.reused, where)

    def close(self, job: Job) -> None:
        """Remove the job's container and temporary folder; give its engine back."""
        if job.pipeline is not None:
            job.pipeline.close()
            if job.engine is not None:
                self.cleanup.built(job.engine, job.pipeline.built_image_ids())
        if job.engine is not None:
            self.pool.release(job.engine)
            job.engine = None
        job.stack.close()


WARM_UP = ("grader.single", "testinfra")
"""What the checks load (pytest, the rubric's plugin, testinfra), imported by the main thread
while the first build runs, not before it: ``grade`` sends its first build sooner."""


WARM_UP_WAIT_S = 2.0
"""Longest the main thread waits for the first build to be sent before its warm-up."""


def warm_up() -> None:
    """Import ``WARM_UP`` and ready the report templates (main thread, during the first build)."""
    for module in WARM_UP:
        importlib.import_module(module)
    warm_up_reports()


def previous_reports(output: Path) -> dict[str, SubmissionReport]:
    """Every report an earlier run left in ``output``, by submission name."""
    found = {}
    for path in sorted(output.glob("*/report.json")):
        report = previous_report(output, path.parent.name)
        if report is not None:
            found[report.submission] = report
    return found


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
) -> ClassResult:
    """Grade every submission under ``paths`` into ``output``, ``jobs`` at once; one
    submission's failure never stops the others.

    Raises:
        UsageError, LabFileError: bad paths or lab (before anything is graded).
    """
    folders = resolve(paths)
    if lab_ref != "auto":
        load_lab(lab_ref)  # a bad lab is refused before anything is built
    pool = engines if isinstance(engines, EnginePool) else EnginePool([engines])
    jobs = max(1, jobs)
    labels = new_run_labels()
    run = Run(lab_ref, options, output, pool, labels, listener or Listener(), force,
              ahead=jobs > 1, cleanup=Cleanup(pool, labels[LABEL_RUN]),
              free=list(range(jobs))[::-1])  # fmt: skip
    before = previous_reports(output) if regrade else {}
    run.listener.started(len(folders), jobs)
    reports: list[SubmissionReport] = []
    pending: dict[int, tuple[Future[Job], Future[Job]]] = {}
    executor = ThreadPoolExecutor(jobs, thread_name_prefix="grader") if jobs > 1 else None
    run.cleanup.start()
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
                if i == 0:  # while the first build runs: not before, not competing with it
                    job.waiting.wait(WARM_UP_WAIT_S)
                    warm_up()
                if i == len(folders) - 1:
                    run.cleanup.list_when(job.built)
            graded = run.finish(job)
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
        sweep = run.cleanup.finish()  # while the class reports are written
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
    """Grade a class one submission at a time (``run_class`` with ``jobs=1``); ``resume`` is
    kept for compatibility: unchanged submissions always keep their report."""
    return run_class(paths, lab_ref, options, output, engine, _Callback(on_graded)).reports


class _Callback(Listener):
    """A listener that hands each graded submission to a function."""

    def __init__(self, on_graded: Callable[[Graded], None]) -> None:
        self.on_graded = on_graded

    def graded(self, graded: Graded) -> None:
        """Call the function."""
        self.on_graded(graded)

"""One submission's way through a class run: located, reused or given a pipeline whose
stages a worker runs ahead (``Run.prepare``), then checked by the rubric in the main thread
while those stages still run, its reports written and its container removed (``Run.finish``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from grader.classrun.cleanup import Cleanup
from grader.classrun.reuse import key_of, previous_report, reached_through, reusable
from grader.classrun.watchdog import watch
from grader.classrun.workers import EnginePool, prepare, stages_for
from grader.errors import (
    EngineUnavailable,
    LabFileError,
    SubmissionRejected,
    UsageError,
)
from grader.facts import Submission
from grader.facts.results import SubmissionReport, assemble
from grader.grading.pipeline import Pipeline
from grader.grading.settings import Options
from grader.grading.verdicts import error_report, rejected_report
from grader.i18n import t
from grader.intake.discover import discover
from grader.intake.identity import Identity
from grader.intake.names import Named
from grader.intake.outcomes import IntakeFailed, intake_notes, intake_report
from grader.intake.sources import IntakeOptions, Source, arrive
from grader.intake.submission import load_submission
from grader.labs.spec import LabSpec, builtin_labs, choose_lab, load_lab, load_lab_file
from grader.report import format_exception, write_all, write_grader_log
from grader.report import warm_up as warm_up_reports

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


class Listener:
    """Hears about a class run as it goes; this one hears nothing (see ``grader.cli.progress``)."""

    def started(self, total: int, workers: int) -> None:
        """The run starts: ``total`` submissions, ``workers`` at once."""

    def step(self, worker: int, submission: str, step: str) -> None:
        """Worker ``worker`` (0-based; -1: the main thread, running the checks) is at
        ``step`` of ``submission`` (called from any thread)."""

    def graded(self, graded: Graded) -> None:
        """One submission is graded and its reports written (main thread)."""


@dataclass
class Job:
    """One submission on its way: its stages run by a worker, its checks by the main thread
    (at the same time: the checks wait for the stages they read)."""

    source: Source
    name: str
    identity: Identity = field(default_factory=Identity)
    """Who it is and where it came from, as far as the intake got."""
    named: Named | None = None
    """How its name was made unique (``grader.intake.names``); None: its plain name."""
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
    quiet: threading.Event = field(default_factory=threading.Event)
    """Set once its engine has little left to do for it: its container is being stopped
    (the app shutting down, Docker waiting), or its stages are over."""


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
    intake: IntakeOptions = field(default_factory=IntakeOptions)
    stop: threading.Event = field(default_factory=threading.Event)
    free: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def prepare(self, source: Source, admitted: Future[Job] | None = None) -> Job:
        """Locate the submission, reuse its report or run its stages (any thread); ``admitted``
        gets the job as soon as its pipeline exists, before its stages run, so that the main
        thread can run the rubric while they do (its checks wait for the stages they read).

        Raises:
            UsageError, LabFileError: the lab given cannot be used.
        """
        with self.lock:
            worker = self.free.pop() if self.free else 0
        job = Job(source, source.name, source.identity, source.named)
        try:
            self._prepare(job, worker, admitted)
        except IntakeFailed as exc:
            lab = None if self.lab_ref == "auto" else load_lab(self.lab_ref)
            lang = self.options.lang or (lab.lang if lab else "en")
            job.report = intake_report(job.name, lab, exc, lang)
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
                job.pipeline.on_stage = lambda stage: self._on_stage(job, -1, stage)
            with self.lock:
                self.free.append(worker)
            job.prepared.set()
            job.waiting.set()
            job.built.set()
            job.quiet.set()
            if admitted is not None and not admitted.done():
                admitted.set_result(job)
        return job

    def _prepare(self, job: Job, worker: int, admitted: Future[Job] | None) -> None:
        step = functools.partial(self.listener.step, worker)
        sub = locate(job, self.lab_ref, self.options, self.output, self.force, self.intake, step)
        if sub is None:
            return
        lab = job.lab
        assert lab is not None
        job.engine = self.pool.pick()
        engine = self.pool.engines[job.engine]
        job.pipeline = Pipeline(sub, lab, lambda: engine, self.labels, self.options)
        job.pipeline.on_stage = lambda stage: self._on_stage(job, worker, stage)
        job.pipeline.on_build_sent = job.waiting.set
        if self.ahead:
            if admitted is not None:
                admitted.set_result(job)
            prepare(job.pipeline, stages_for(lab), self.stop, job.built.set)

    def _on_stage(self, job: Job, worker: int, stage: str) -> None:
        self.listener.step(worker, job.name, stage)
        if stage == "stop":
            job.quiet.set()

    def finish(self, job: Job, on_closed: Callable[[], None] = lambda: None) -> Graded:
        """Run the rubric on a submission and write its reports (main thread); its stages may
        still be running ahead in a worker: the checks wait for those they read, and the job
        is closed only once the worker is done with it. ``on_closed``: called once it is,
        before its reports are written (not when interrupted)."""
        self.listener.step(-1, job.name, "checks")
        where = "" if job.engine is None else self.pool.engines[job.engine].base_url
        watchdog = watch(job.pipeline) if job.pipeline is not None else None
        try:
            report = job.report
            if report is None and job.pipeline is not None:
                from grader.grading.single import (
                    grade_loaded,
                )  # pytest (WARM_UP): not for a reused one

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
            report = with_identity(report, job.identity)
            if not job.reused and job.named is not None and job.named.shared_with:
                report = dataclasses.replace(
                    report, notes=(*report.notes, _renamed(job.named, report.lang))
                )
        except BaseException:  # interrupted: stop the stages the worker is waiting on
            self.stop.set()
            self.cleanup.now()
            raise
        finally:
            job.prepared.wait()  # bounded: past its time, the watchdog removes its containers
            if watchdog is not None:
                watchdog.cancel()
            self.close(job)
        on_closed()
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


def locate(
    job: Job,
    lab_ref: str,
    options: Options,
    output: Path,
    force: bool,
    intake: IntakeOptions,
    step: Callable[[str, str], None],
) -> Submission | None:
    """Bring the job's submission in (its identity, lab and reuse key set on ``job``): the
    submission to grade, or None when its report is already known (reused, unknown lab).

    Raises:
        IntakeFailed, SubmissionRejected: the submission cannot be graded (a result).
        UsageError, LabFileError: the lab given cannot be used.
    """
    step(job.name, "intake")
    arrival = job.stack.enter_context(arrive(job.source, intake))
    job.identity = arrival.identity
    labs = labs_of(lab_ref)
    found = discover(arrival.folder, labs)
    if found.folder is None and found.declared:
        raise IntakeFailed("intake.bad_path", path=found.declared)
    if found.folder is None:
        raise IntakeFailed("intake.ambiguous", candidates=", ".join(found.others))
    folder = found.folder
    job.identity = job.identity.with_(graded_folder=found.rel, other_folders=found.others)
    job.lab = lab = choose_lab(folder, lab_ref)
    if lab is None:
        note = "cannot tell which lab this submission is for: grade it with --lab ID"
        job.report = assemble(job.name, "unknown", [], notes=(note,))
        return None
    sub = load_submission(folder, job.name)
    job.key = key_of(sub, lab, options)
    previous = None
    if force:
        pass
    elif reached_through(output, job.name, folder):
        log.info("%s: its earlier report is inside the submission: not read", job.name)
    else:
        previous = previous_report(output, job.name)
    if previous is not None and reusable(previous, job.key):
        job.report, job.reused = previous, True
        return None
    return sub


def labs_of(lab_ref: str) -> list[LabSpec]:
    """The lab given, or every built-in lab for ``auto`` (what a submission's lab folder is
    looked for with).

    Raises:
        UsageError, LabFileError: ``lab_ref`` names no valid lab.
    """
    if lab_ref != "auto":
        return [load_lab(lab_ref)]
    return [load_lab_file(p) for p in builtin_labs().values()]


def with_identity(report: SubmissionReport, identity: Identity) -> SubmissionReport:
    """The report with who the student is (facts) and where the work came from (origin and
    notes): what the intake learnt overrides what submission.toml declared."""
    notes = intake_notes(identity, report.lang)
    return dataclasses.replace(
        report,
        facts={**report.facts, **identity.facts()},
        origin=identity.origin(),
        notes=report.notes + tuple(n for n in notes if n not in report.notes),
    )


def _renamed(named: Named, lang: str) -> str:
    """The note saying why a submission's reports are not under its plain name."""
    others = ", ".join(named.shared_with)
    return t("trust.same_name", lang, plain=named.plain, path=named.path, others=others,
             name=named.name)  # fmt: skip


WARM_UP = ("grader.grading.single", "testinfra", "testinfra.backend.docker")
"""What the checks load (pytest, the rubric's plugin, testinfra), imported by the main thread
while the first build runs, not before it: ``grade`` sends its first build sooner."""


WARM_UP_WAIT_S = 2.0
"""Longest the main thread waits for the first build to be sent before its warm-up."""


def warm_up() -> None:
    """Import ``WARM_UP`` and ready the report templates (main thread, during the first build)."""
    for module in WARM_UP:
        importlib.import_module(module)
    warm_up_reports()

"""``grade PATH... --queue redis://...``: the instructor's side of the department's queue.

The intake runs here as in a local run (folders, zips, Moodle, git; a reused report stays
reused); each submission left to grade is sent as a task (its graded folder, the lab, the
options, this grader's version) and its report, graded by a worker with the local run's job
code, comes back to be written here, with the identity the intake learnt, as soon as it is
ready. The class files and the dashboard are written at the end, as in a local run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import Celery
from celery.states import READY_STATES
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from grader.classrun import tasks
from grader.classrun.batch import ClassResult, previous_reports, shard_of, write_deltas
from grader.classrun.jobs import Graded, Job, Listener, labs_of, locate, with_identity
from grader.classrun.payload import folder_bytes, pack
from grader.classrun.reuse import grader_digest
from grader.classrun.shards import Shard
from grader.engine import Engine
from grader.errors import EngineUnavailable, LabFileError, SubmissionRejected, UsageError
from grader.facts import Submission
from grader.facts.results import SubmissionReport, assemble
from grader.grading.legacy import read_report
from grader.grading.settings import Options, Settings
from grader.grading.verdicts import error_report, rejected_report
from grader.intake.outcomes import IntakeFailed, intake_report
from grader.intake.sources import IntakeOptions, Source, open_class
from grader.labs.spec import LabSpec, builtin_labs, load_lab
from grader.report import format_exception, write_all, write_class, write_grader_log
from grader.report.regrade import compare_class
from grader.stages.build import ignore_patterns

POLL_S = 0.05
"""Seconds between two reads of the pending answers (one ``MGET``, see ``ready``)."""
log = logging.getLogger(__name__)


class QueueFailed(EngineUnavailable):
    """The queue could not grade a submission (refused, or failed every attempt)."""


@dataclass(frozen=True)
class Sent:
    """A submission sent to the queue, waiting for its report."""

    job: Job
    sub: Submission
    lab: LabSpec
    result: Any
    """Its Celery ``AsyncResult``."""


@dataclass
class QueueRun:
    """One class run through the queue at ``app``."""

    app: Celery
    lab_ref: str
    options: Options
    output: Path
    listener: Listener
    force: bool
    intake: IntakeOptions
    priority: int = tasks.CLASS

    def lab_fields(self) -> dict[str, Any]:
        """The lab as a task carries it: a built-in id, or a lab file's text."""
        if self.lab_ref == "auto" or self.lab_ref in builtin_labs():
            return {"lab": self.lab_ref, "lab_text": None}
        path = Path(self.lab_ref)
        return {"lab": self.lab_ref, "lab_text": path.read_text("utf-8"), "lab_file": path.name}

    def send(self, source: Source) -> Job | Sent:
        """Bring one submission in and send it (or know its report already).

        Raises:
            UsageError, LabFileError: the lab given cannot be used.
        """
        job = Job(source, source.name, source.identity, source.named)
        step = functools.partial(self.listener.step, 0)
        try:
            sub = locate(job, self.lab_ref, self.options, self.output, self.force, self.intake,
                         step)  # fmt: skip
            if sub is None:
                return job
            assert job.lab is not None
            limit = Settings.resolve(self.options, job.lab).context_limit_bytes
            payload = {
                "name": job.name,
                "files": pack(sub.root, limit, files_to_send(sub, limit)),
                "options": dataclasses.asdict(self.options),
                "version": grader_digest(),
                **self.lab_fields(),
            }
            tid = tasks.task_id(job.key, job.name)
            stored = self.app.AsyncResult(tid)
            if self.force or stored.state in ("FAILURE", "REVOKED"):
                stored.forget()
            if stored.state != "SUCCESS":
                self.app.backend.client.delete(tasks.attempts_key(tid))
                stored = self.app.send_task(tasks.TASK, args=[payload], task_id=tid,
                                            priority=self.priority, queue=tasks.QUEUE)  # fmt: skip
            step(job.name, "sent to the queue")
            return Sent(job, sub, job.lab, stored)
        except IntakeFailed as exc:
            lab = None if self.lab_ref == "auto" else load_lab(self.lab_ref)
            lang = self.options.lang or (lab.lang if lab else "en")
            job.report = intake_report(job.name, lab, exc, lang)
        except SubmissionRejected as exc:
            lab = job.lab or (None if self.lab_ref == "auto" else load_lab(self.lab_ref))
            job.report = rejected_report(job.name, lab, exc)
        except (UsageError, LabFileError):
            raise
        except Exception as exc:  # a grader bug: this submission's report says so
            job.tracebacks.append(format_exception(exc))
            job.report = assemble(job.name, "unknown", [], notes=(f"grader error: {exc}",))
        finally:
            job.stack.close()
        return job

    def known(self, job: Job) -> Graded:
        """Write the report of a submission that was not sent (reused, refused...)."""
        assert job.report is not None
        report = with_identity(job.report, job.identity)
        target = self.output / report.submission
        if not job.reused:
            target = write_all(report, self.output)
            write_grader_log(target, job.tracebacks)
        seconds = 0.0 if job.reused else time.monotonic() - job.started
        return Graded(report, seconds, target, job.reused)

    def received(self, sent: Sent) -> Graded:
        """Write the report a worker sent back (an error report when none came)."""
        job, answer = sent.job, sent.result.get(propagate=False)
        tracebacks, engine = "", ""
        if isinstance(answer, dict) and "report" in answer:
            report = read_report(answer["report"])
            report = dataclasses.replace(report, reuse_key=job.key)
            tracebacks, engine = str(answer.get("tracebacks", "")), str(answer.get("engine", ""))
        else:
            if isinstance(answer, dict):
                reason = str(answer.get("refused") or answer.get("failed"))
            else:
                reason = f"the task failed: {answer!r}"
            report = error_report(sent.sub, sent.lab, self.options, QueueFailed(reason))
        report = with_identity(report, job.identity)
        target = write_all(report, self.output)
        write_grader_log(target, [tracebacks] if tracebacks else [])
        return Graded(report, time.monotonic() - job.started, target, False, engine)


def files_to_send(sub: Submission, limit: int) -> list[str] | None:
    """Every file (None) when they fit in ``limit``; else only the build context (its
    ``.dockerignore`` applied) with the ``.dockerignore`` and the Dockerfile, as a local run
    counts a context against that limit."""
    if folder_bytes(sub.root) <= limit:
        return None
    dockerfile = sub.dockerfile.relative_to(sub.root).as_posix() if sub.dockerfile else ""
    found = Engine.context_files(sub.root, dockerfile or "Dockerfile", ignore_patterns(sub.root))
    parents = {p.as_posix() for f in found for p in Path(f).parents if p != Path(".")}
    return sorted({*found, *parents, ".dockerignore", *([dockerfile] if dockerfile else [])})


def ready(app: Celery, pending: dict[str, Sent]) -> Iterable[Sent]:
    """The sent submissions whose answer is in (taken out of ``pending``): one read of Redis
    for all of them (``MGET`` of their result keys), however many are pending."""
    names = list(pending)
    if not names:
        return
    backend = app.backend
    keys = [backend.get_key_for_task(pending[n].result.id) for n in names]
    for name, value in zip(names, backend.client.mget(keys), strict=True):
        if value is not None and backend.decode_result(value)["status"] in READY_STATES:
            yield pending.pop(name)


def run_queued(
    paths: list[Path],
    lab_ref: str,
    options: Options,
    output: Path,
    url: str,
    listener: Listener | None = None,
    *,
    force: bool = False,
    regrade: bool = False,
    intake: IntakeOptions | None = None,
    shard: Shard | None = None,
) -> ClassResult:
    """Grade every submission under ``paths`` through the queue at ``url`` into ``output``.

    Raises:
        UsageError, LabFileError: bad paths or lab (before anything is sent).
        EngineUnavailable: the queue's Redis does not answer.
    """
    listener = listener or Listener()
    app = tasks.new_app(url)
    with contextlib.ExitStack() as stack:
        intake = intake or IntakeOptions()
        labs_of(lab_ref)  # a bad lab is refused before anything is sent
        sources = open_class(paths, intake, stack, labs_of(lab_ref))
        if shard is not None:
            sources = shard_of(sources, shard, output)
        before = previous_reports(output) if regrade else {}
        priority = tasks.SINGLE if len(sources) == 1 else tasks.CLASS
        run = QueueRun(app, lab_ref, options, output, listener, force, intake, priority)
        listener.started(len(sources), 1)
        graded: dict[str, SubmissionReport] = {}
        pending: dict[str, Sent] = {}

        def take(done: Graded) -> None:
            graded[done.report.submission] = done.report
            listener.graded(done)

        try:
            if sources and not app.control.ping(timeout=1.0, limit=1):
                log.warning("no grade-worker answers on %s yet: the submissions wait", url)
            for source in sources:
                outcome = run.send(source)
                if isinstance(outcome, Sent):
                    pending[outcome.job.name] = outcome
                else:
                    take(run.known(outcome))
                for sent in ready(app, pending):
                    take(run.received(sent))
            while pending:
                for sent in ready(app, pending):
                    take(run.received(sent))
                time.sleep(POLL_S)
        except (OSError, RedisError, OperationalError) as exc:
            raise EngineUnavailable(f"the queue at {url} does not answer: {exc}") from exc
        finally:
            reports = [graded[s.name] for s in sources if s.name in graded]
            deltas = compare_class(before, reports) if regrade else []
            if reports:
                write_class(reports, output, deltas)
            app.close()
    if regrade:
        write_deltas(deltas, output)
    return ClassResult(reports, deltas)

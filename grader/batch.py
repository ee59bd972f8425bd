"""Grade submissions: each one through the rubric in pytest, one never stopping the others.

The class run connects to the engine once, sweeps leftovers of dead runs by label, grades each
submission, writes its reports as soon as it is graded, and removes this run's images at the
end (not earlier: later students reuse the build cache of earlier ones).
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.archive import extract_zip
from grader.engine import LABEL_RUN, Engine, new_run_labels
from grader.errors import EngineError, SubmissionRejected
from grader.facts import Submission
from grader.i18n import t
from grader.lab import LabSpec, choose_lab, load_lab
from grader.plugin import rubric_dir
from grader.report import write_all, write_class
from grader.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.session import GradingSession, format_exception, write_grader_log
from grader.settings import Options
from grader.submission import load_submission, resolve
from grader.verdicts import stage_feedback

log = logging.getLogger(__name__)
UNPACKED_LIMIT = 500_000_000
"""Most bytes a submission archive may unpack to."""


def pytest_args() -> list[str]:
    """How the batch runs the rubric: its own config, quiet, no cache, no terminal output."""
    rubric = rubric_dir()
    return [
        str(rubric),
        "-c", str(rubric / "pytest.ini"),
        "--rootdir", str(rubric),
        "-p", "grader.plugin",
        "-p", "no:terminal",
        "-p", "no:cacheprovider",
        # docker-py leaks a socket when the engine is unreachable; the warning pytest raises
        # for it at session end must not turn a graded submission into a grader error
        "-p", "no:unraisableexception",
    ]  # fmt: skip


def grade_submission(
    path: Path,
    lab: LabSpec,
    options: Options | None = None,
    engine: Callable[[], Engine] = Engine,
    labels: dict[str, str] | None = None,
) -> tuple[SubmissionReport, list[str]]:
    """Grade one submission folder; returns its report and any grader tracebacks.

    The built image is left for the caller to remove (by the run's label).
    """
    return grade_loaded(load_submission(path), lab, options, engine, labels)


def grade_loaded(
    sub: Submission,
    lab: LabSpec,
    options: Options | None = None,
    engine: Callable[[], Engine] = Engine,
    labels: dict[str, str] | None = None,
) -> tuple[SubmissionReport, list[str]]:
    """Grade a located submission through the rubric."""
    session = GradingSession(
        [(sub, lab)], options or Options(), engine, labels or new_run_labels(), remove_images=False
    )
    try:
        code = pytest.main(pytest_args(), plugins=[session])
    except Exception as exc:  # a grader bug must not stop the class
        return error_report(sub, lab, options, exc), [format_exception(exc)]
    if code == pytest.ExitCode.INTERRUPTED:  # pytest swallowed Ctrl-C / SIGTERM: stop the class
        raise KeyboardInterrupt
    if not session.reports:
        nothing = RuntimeError(f"the rubric did not run (pytest exit status {int(code)})")
        return error_report(sub, lab, options, nothing), []
    return session.reports[0], session.tracebacks(sub.name)


def error_report(
    sub: Submission, lab: LabSpec, options: Options | None, exc: BaseException
) -> SubmissionReport:
    """A report whose every check is ``error``: the grader failed, not the student."""
    lang = (options.lang if options else None) or lab.lang
    key = "error.engine" if isinstance(exc, EngineError) else "error.internal"
    fb = Feedback(summary=t(f"{key}.summary", lang, detail=str(exc)), fix=t(f"{key}.fix", lang))
    checks = [
        CheckResult(c.id, Status.ERROR, 0.0, c.max_score, fb.as_text(), fb) for c in lab.checks
    ]
    return assemble(sub.name, lab.id, checks, lang=lang)


@dataclass(frozen=True)
class Graded:
    """One line of the class run, for the command line to print."""

    report: SubmissionReport
    seconds: float
    folder: Path


def rejected_report(name: str, lab: LabSpec | None, exc: SubmissionRejected) -> SubmissionReport:
    """A submission refused before grading (unsafe archive...): every check failed, with why."""
    if lab is None:
        return assemble(name, "unknown", [], notes=(str(exc),))
    status, fb = stage_feedback(exc, lab.lang)
    checks = [CheckResult(c.id, status, 0.0, c.max_score, fb.as_text(), fb) for c in lab.checks]
    return assemble(name, lab.id, checks, lang=lab.lang, notes=(str(exc),))


def submission_name(path: Path) -> str:
    """A submission's name: its folder's, or its archive's without ``.zip``."""
    return path.stem if path.suffix.lower() == ".zip" else path.name


@contextlib.contextmanager
def intake(path: Path) -> Iterator[Path]:
    """The submission's folder: ``path`` itself, or a zip safely extracted to a temporary
    folder that is removed afterwards, whatever happens.

    Raises:
        SubmissionRejected: an unsafe or invalid archive.
    """
    if path.suffix.lower() != ".zip":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="grader-zip-") as tmp:
        dest = Path(tmp) / submission_name(path)
        dest.mkdir()
        yield extract_zip(path, dest, UNPACKED_LIMIT)


def _grade_path(
    path: Path,
    lab_ref: str,
    options: Options,
    engine: Engine,
    labels: dict[str, str],
) -> tuple[SubmissionReport, list[str]]:
    name = submission_name(path)
    try:
        with intake(path) as folder:
            lab = choose_lab(folder, lab_ref)
            if lab is None:
                note = "cannot tell which lab this submission is for: grade it with --lab ID"
                return assemble(name, "unknown", [], notes=(note,)), []
            sub = load_submission(folder, name)
            return grade_loaded(sub, lab, options, lambda: engine, labels)
    except SubmissionRejected as exc:
        lab = None if lab_ref == "auto" else load_lab(lab_ref)
        return rejected_report(name, lab, exc), []


def _previous(output: Path, name: str) -> SubmissionReport | None:
    """A complete report left by an earlier run (reports are written atomically)."""
    path = output / name / "report.json"
    try:
        return SubmissionReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError):
        return None


def grade_class(
    paths: list[Path],
    lab_ref: str,
    options: Options,
    output: Path,
    engine: Engine,
    on_graded: Callable[[Graded], None] = lambda g: None,
    resume: bool = False,
) -> list[SubmissionReport]:
    """Grade every submission under ``paths`` into ``output``; never stops on one submission.

    Raises:
        UsageError, LabFileError: bad paths or lab (before anything is graded).
    """
    folders = resolve(paths)
    labels = new_run_labels()
    swept = engine.sweep()
    if swept:
        log.info("removed %d leftovers of earlier interrupted runs", swept)
    reports: list[SubmissionReport] = []
    try:
        for path in folders:
            started = time.monotonic()
            previous = _previous(output, submission_name(path)) if resume else None
            if previous is not None:
                reports.append(previous)
                on_graded(Graded(previous, 0.0, output / previous.submission))
                continue
            report, tracebacks = _grade_path(path, lab_ref, options, engine, labels)
            target = write_all(report, output)
            write_grader_log(target, tracebacks)
            reports.append(report)
            write_class(reports, output)
            on_graded(Graded(report, time.monotonic() - started, target))
    finally:
        try:
            engine.sweep(labels[LABEL_RUN])
        except EngineError as exc:  # the engine went away: the next run's sweep will do it
            log.warning("could not remove this run's objects: %s", exc)
    return reports

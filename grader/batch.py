"""Grade submissions: each one through the rubric in pytest, one never stopping the others.

The class run connects to the engine once, sweeps leftovers of dead runs by label, grades each
submission, writes its reports as soon as it is graded, and removes this run's images at the
end (not earlier: later students reuse the build cache of earlier ones).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.engine import LABEL_RUN, Engine, new_run_labels
from grader.errors import EngineError
from grader.facts import Submission
from grader.i18n import t
from grader.lab import LabSpec, choose_lab
from grader.pipeline import Options
from grader.plugin import rubric_dir
from grader.report import write_all, write_class
from grader.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.session import GradingSession, format_exception, write_grader_log
from grader.submission import load_submission, resolve

log = logging.getLogger(__name__)


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
    sub = load_submission(path)
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


def grade_class(
    paths: list[Path],
    lab_ref: str,
    options: Options,
    output: Path,
    engine: Engine,
    on_graded: Callable[[Graded], None] = lambda g: None,
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
        for folder in folders:
            started = time.monotonic()
            lab = choose_lab(folder, lab_ref)
            if lab is None:
                note = "cannot tell which lab this submission is for: grade it with --lab ID"
                report, tracebacks = (
                    assemble(folder.name, "unknown", [], notes=(note,)),
                    list[str](),
                )
            else:
                report, tracebacks = grade_submission(folder, lab, options, lambda: engine, labels)
            target = write_all(report, output)
            write_grader_log(target, tracebacks)
            reports.append(report)
            write_class(reports, output)
            on_graded(Graded(report, time.monotonic() - started, target))
    finally:
        engine.sweep(labels[LABEL_RUN])
    return reports

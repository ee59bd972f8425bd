"""Grade one submission through the rubric in pytest; a grader failure becomes an error report."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.archive import extract_zip
from grader.engine import Engine, new_run_labels
from grader.errors import EngineError, SubmissionRejected
from grader.facts import Submission
from grader.i18n import t
from grader.lab import LabSpec
from grader.pipeline import Pipeline
from grader.plugin import rubric_dir
from grader.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.session import GradingSession, format_exception
from grader.settings import Options
from grader.submission import load_submission
from grader.verdicts import error_cause, stage_feedback

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
    prepared: Pipeline | None = None,
) -> tuple[SubmissionReport, list[str]]:
    """Grade a located submission through the rubric (``prepared``: its pipeline, whose
    stages a worker already ran)."""
    session = GradingSession(
        [(sub, lab)],
        options or Options(),
        engine,
        labels or new_run_labels(),
        remove_images=False,
        prepared={sub.name: prepared} if prepared else None,
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
        CheckResult(c.id, Status.ERROR, 0.0, c.max_score, fb.as_text(), fb, error_cause(exc))
        for c in lab.checks
    ]
    return assemble(sub.name, lab.id, checks, lang=lang)


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

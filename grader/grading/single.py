"""Grade one submission through the rubric in pytest; a grader failure becomes an error report."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _pytest import runner

from grader.engine import Engine
from grader.facts import Submission
from grader.facts.results import SubmissionReport
from grader.grading.pipeline import Pipeline
from grader.grading.session import GradingSession
from grader.grading.settings import Options
from grader.grading.verdicts import error_report
from grader.intake.submission import load_submission
from grader.labels import new_run_labels
from grader.labs.spec import LabSpec, rubric_dir
from grader.report import format_exception

UNUSED_PLUGINS = (
    "debugging",
    "unittest",
    "doctest",
    "legacypath",
    "tmpdir",
    "monkeypatch",
    "recwarn",
    "pastebin",
    "junitxml",
    "setuponly",
    "setupplan",
    "stepwise",
    "faulthandler",
    "subtests",
)
"""pytest's own plugins the rubric's checks do not use (they read facts through the
grader's fixtures): not loaded when the batch runs the rubric."""


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
        # the grader's own log (grade -v) goes on to stderr while the rubric runs, instead of
        # into pytest's captures that nobody reads: no log capture, and only sys.stdout and
        # sys.stderr swapped (the log handler keeps the real stderr), not the file descriptors
        "-p", "no:logging",
        "--capture=sys",
        # the rubric reports through grade.fail, not bare asserts: no rewriting (recompiling
        # the rubric on every run where bytecode is not written, as on this machine)
        "--assert=plain",
        # plugins the rubric never uses, not loaded (their modules are a tenth of pytest's
        # start: unittest, pdb, doctest)
        *(arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")),
    ]  # fmt: skip


class ShortTracebacks:
    """The rubric's verdicts replace pytest's failure text: pytest must not spend time
    describing a failure that nobody reads. A long traceback with source excerpts took a
    tenth of a second per failed check; even the shortest style walks and filters every
    frame (a tenth of a class run's CPU, with the registry checks in error). A check's failure
    is one line here; grader bugs still reach grader.log in full (``GradingSession``)."""

    @staticmethod
    def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
        """Each check describes its failure in one line, without its traceback."""
        for item in items:
            item.repr_failure = _one_line  # type: ignore[method-assign]
            item._repr_failure_py = _one_line  # type: ignore[method-assign, assignment]


def _one_line(excinfo: pytest.ExceptionInfo[BaseException], style: object = None) -> str:
    """The exception's type and message (what a failed check's report would show first)."""
    return f"{type(excinfo.value).__name__}: {excinfo.value}"


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


@contextlib.contextmanager
def _environ_left_alone() -> Iterator[None]:
    """pytest sets and deletes ``PYTEST_CURRENT_TEST`` in ``os.environ`` around every check;
    in a class run, worker threads read ``os.environ`` at the same time (requests looks for
    proxies on every request, docker-py's included), and a key deleted while another thread
    iterates the mapping raised ``KeyError: 'PYTEST_CURRENT_TEST'`` there: a grader error for
    a student. The batch's rubric runs without that variable (nothing of ours reads it)."""
    original = runner._update_current_test_var
    runner._update_current_test_var = lambda item, when: None
    try:
        yield
    finally:
        runner._update_current_test_var = original


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
        with _environ_left_alone():
            code = pytest.main(pytest_args(), plugins=[session, ShortTracebacks()])
    except Exception as exc:  # a grader bug must not stop the class
        return error_report(sub, lab, options, exc), [format_exception(exc)]
    if code == pytest.ExitCode.INTERRUPTED:  # pytest swallowed Ctrl-C / SIGTERM: stop the class
        raise KeyboardInterrupt
    if not session.reports:
        nothing = RuntimeError(f"the rubric did not run (pytest exit status {int(code)})")
        return error_report(sub, lab, options, nothing), []
    return session.reports[0], session.tracebacks(sub.name)

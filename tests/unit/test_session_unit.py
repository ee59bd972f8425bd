"""The reporter never drops a check, and what it says itself is in the student's language."""

from __future__ import annotations

from pathlib import Path

from grader.engine import Engine
from grader.lab import load_lab
from grader.session import GradingSession
from grader.settings import Options
from grader.submission import load_submission


def _no_engine() -> Engine:
    raise AssertionError("assembling a report must not need the engine")


def test_a_check_that_never_ran_is_an_error_in_the_labs_language(tmp_path: Path) -> None:
    sub = load_submission(tmp_path)
    lab = load_lab("tp6")
    session = GradingSession([(sub, lab)], Options(), _no_engine, {})
    report = session.assemble(session.graded[sub.name])
    assert [c.id for c in report.checks] == [c.id for c in lab.checks]  # none dropped
    first = report.checks[0]
    assert first.status.value == "error" and first.score == 0 and report.max_score == 20
    assert first.message.startswith(
        "Non évalué : la vérification dockerfile.present ne s'est pas exécutée"
    )
    english = GradingSession([(sub, lab)], Options(lang="en"), _no_engine, {})
    message = english.assemble(english.graded[sub.name]).checks[0].message
    assert message.startswith("Not graded: the check dockerfile.present did not run")

"""The reporter never drops a check, and what it says itself is in the student's language."""

from __future__ import annotations

from pathlib import Path

from grader.engine import Engine
from grader.grading.session import GradingSession
from grader.grading.settings import Options
from grader.intake.submission import load_submission
from grader.labs.spec import load_lab


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


def test_no_secret_value_reaches_a_report_through_facts_or_feedback() -> None:
    from functools import partial

    from grader.dockerfile.mistakes import mask_secret_values
    from grader.facts.results import CheckResult, Feedback, Status
    from grader.grading.session import masked, masked_check
    from grader.labs.params import SecretsParams

    p = SecretsParams()
    mask = partial(mask_secret_values, fragments=p.names, allowed=p.allowed)
    line = 'ENV SECRET_KEY="s3cr3tvalue"'
    facts = {"layer_table": [{"instruction": line, "size_bytes": 0}], "steps": (line, 3)}
    shown = masked(facts, mask)
    assert "s3cr3tvalue" not in repr(shown)
    assert shown["layer_table"][0] == {
        "instruction": "ENV SECRET_KEY=******",
        "size_bytes": 0,
    }
    assert shown["steps"][1] == 3 and isinstance(shown["steps"], tuple)
    fb = Feedback(summary="re-ran", evidence=f"line 7: {line} — re-ran")
    check = masked_check(CheckResult("image.layer_cache", Status.FAILED, 0, 0, line, fb), mask)
    assert "s3cr3tvalue" not in check.message + repr(check.feedback)
    assert masked("APP_NAME=hello", mask) == "APP_NAME=hello"  # other assignments are kept

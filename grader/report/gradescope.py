"""Gradescope autograder ``results.json``: a score and one test per check."""

from __future__ import annotations

import json

from grader.facts.results import CheckResult, Status, SubmissionReport
from grader.i18n import t

PASSING = (Status.PASSED, Status.ADVICE)
"""Gradescope knows only passed and failed: advice (max_score 0) reads as passed, with the
advice as its output, so that no red mark shows for a bonus."""


def output(check: CheckResult, lang: str) -> str:
    """A test's output: its status in words (and what blocked it) for anything but a pass,
    then the feedback."""
    if check.status is Status.PASSED:
        return check.message
    label = t(f"statuses.status_{check.status.value}", lang)
    if check.blocked_by:
        label += f" ({t('statuses.blocked_by', lang, check=check.blocked_by)})"
    return f"[{label}]\n{check.message}".rstrip()


def render(report: SubmissionReport) -> tuple[str, str]:
    """``gradescope.json`` (copy it to ``/autograder/results/results.json`` on Gradescope)."""
    tests = [
        {
            "name": check.id,
            "score": check.score,
            "max_score": check.max_score,
            "status": "passed" if check.status in PASSING else "failed",
            "output": output(check, report.lang),
            "tags": [check.status.value],
            "visibility": "visible",
        }
        for check in report.checks
    ]
    results = {
        "score": report.score,
        "output": f"{report.submission}: {report.score:g}/{report.max_score:g} ({report.lab})",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return "gradescope.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n"

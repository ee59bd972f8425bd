"""Gradescope autograder ``results.json``: a score and one test per check."""

from __future__ import annotations

import json

from grader.results import Status, SubmissionReport


def render(report: SubmissionReport) -> tuple[str, str]:
    """``gradescope.json`` (copy it to ``/autograder/results/results.json`` on Gradescope)."""
    tests = [
        {
            "name": check.id,
            "score": check.score,
            "max_score": check.max_score,
            "status": "passed" if check.status is Status.PASSED else "failed",
            "output": check.message,
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

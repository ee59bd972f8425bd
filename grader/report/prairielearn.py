"""PrairieLearn external-grader ``results.json``: gradable, score in [0, 1], tests with points."""

from __future__ import annotations

import json

from grader.facts.results import SubmissionReport
from grader.report.gradescope import output


def render(report: SubmissionReport) -> tuple[str, str]:
    """``prairielearn.json`` (the external grader's ``/grade/results/results.json``)."""
    fraction = report.score / report.max_score if report.max_score else 0.0
    results = {
        "gradable": True,
        "score": round(fraction, 4),
        "message": f"{report.score:g}/{report.max_score:g}",
        "output": "\n".join(
            f"{c.id}: {c.status.value}" + (f" ({c.blocked_by})" if c.blocked_by else "")
            for c in report.checks
        ),
        "tests": [
            {
                "name": check.id,
                "description": check.feedback.summary if check.feedback else "",
                "points": check.score,
                "max_points": check.max_score,
                "message": check.status.value,
                "output": output(check, report.lang),
            }
            for check in report.checks
        ],
    }
    return "prairielearn.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n"

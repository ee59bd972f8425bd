"""report.json: the full report, the schema other tools read."""

from __future__ import annotations

import json

from grader.facts.results import SubmissionReport


def render(report: SubmissionReport) -> tuple[str, str]:
    """``report.json``: submission, lab, score, max_score, checks[...] and facts."""
    return "report.json", json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"

"""summary.csv: one row per submission, one column per check id (its status)."""

from __future__ import annotations

from grader.facts.results import SubmissionReport
from grader.report.cells import csv_text


def render(reports: list[SubmissionReport]) -> tuple[str, str]:
    """``summary.csv``: submission, lab, score, max_score, then each check's status (every
    cell made safe for spreadsheets: ``grader.report.cells``)."""
    check_ids: list[str] = []
    for report in reports:
        check_ids += [c.id for c in report.checks if c.id not in check_ids]
    rows: list[list[str]] = [["submission", "lab", "score", "max_score", *check_ids]]
    for report in reports:
        status = {c.id: c.status.value for c in report.checks}
        row = [report.submission, report.lab, f"{report.score:g}", f"{report.max_score:g}"]
        rows.append(row + [status.get(cid, "") for cid in check_ids])
    return "summary.csv", csv_text(rows)

"""gradebook.csv (student, email, score, max) and summary.md (a CI job summary), for a class."""

from __future__ import annotations

import csv
import io

from grader.report.markdown import escape
from grader.results import SubmissionReport


def render(reports: list[SubmissionReport]) -> tuple[str, str]:
    """``gradebook.csv``, ready to import: the student's declared name when known."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "email", "submission", "score", "max_score", "moodle_id"])
    for r in reports:
        student = str(r.facts.get("student") or r.submission)
        email = str(r.facts.get("email") or "")
        moodle_id = str(r.facts.get("moodle_id") or "")
        writer.writerow(
            [student, email, r.submission, f"{r.score:g}", f"{r.max_score:g}", moodle_id]
        )
    return "gradebook.csv", out.getvalue()


def render_summary(reports: list[SubmissionReport]) -> tuple[str, str]:
    """``summary.md``: a table for ``$GITHUB_STEP_SUMMARY`` (GitHub) or a merge request note."""
    lines = [
        "## docker-lab-grader",
        "",
        "| submission | lab | score | to fix |",
        "|---|---|---|---|",
    ]
    for r in reports:
        todo = [c.id for c in r.checks if c.needs_work]  # advice not followed is not "to fix"
        fixes = ", ".join(f"`{cid}`" for cid in todo) or "✅"
        lines.append(
            f"| {escape(r.submission)} | {escape(r.lab)} | {r.score:g}/{r.max_score:g} | {fixes} |"
        )
    return "summary.md", "\n".join(lines) + "\n"

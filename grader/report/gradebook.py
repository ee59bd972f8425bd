"""gradebook.csv (student, email, score, max) and summary.md (a CI job summary), for a class."""

from __future__ import annotations

from grader.report.cells import csv_text
from grader.report.markdown import escape
from grader.results import SubmissionReport


def render(reports: list[SubmissionReport]) -> tuple[str, str]:
    """``gradebook.csv``, keyed by the submission (its folder or archive: what the instructor
    collected), never by the identity a student declares in submission.toml, which is shown
    as declared (empty when not) for the instructor to check; every cell is made safe for
    spreadsheets (``grader.report.cells``)."""
    rows: list[list[str]] = [["submission", "student", "email", "score", "max_score"]]
    for r in reports:
        student = str(r.facts.get("student") or "")
        email = str(r.facts.get("email") or "")
        rows.append([r.submission, student, email, f"{r.score:g}", f"{r.max_score:g}"])
    return "gradebook.csv", csv_text(rows)


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

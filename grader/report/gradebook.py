"""gradebook.csv (student, email, score, max) and summary.md (a CI job summary), for a class."""

from __future__ import annotations

from collections import Counter

from grader.facts.results import Status, SubmissionReport
from grader.report.cells import csv_text
from grader.report.markdown import escape


def render(reports: list[SubmissionReport]) -> tuple[str, str]:
    """``gradebook.csv``, keyed by the submission (its folder or archive: what the instructor
    collected), never by the identity a student declares in submission.toml, which is shown
    as declared (empty when not) for the instructor to check; every cell is made safe for
    spreadsheets (``grader.report.cells``)."""
    rows: list[list[str]] = [["submission", "student", "email", "score", "max_score", "moodle_id"]]
    for r in reports:
        student = str(r.facts.get("student") or "")
        email = str(r.facts.get("email") or "")
        moodle_id = str(r.facts.get("moodle_id") or "")
        rows.append([r.submission, student, email, f"{r.score:g}", f"{r.max_score:g}", moodle_id])
    return "gradebook.csv", csv_text(rows)


TOP_FAILED = 10
"""Most failed checks listed under the table."""


def render_summary(reports: list[SubmissionReport]) -> tuple[str, str]:
    """``summary.md``: a table for ``$GITHUB_STEP_SUMMARY`` (GitHub) or a merge request note:
    per submission the checks failed (the root causes; a check not run is not listed, advice
    neither), those in error (⚠️, not the student's fault) and how many checks did not run;
    then the checks most often failed in the class."""
    lines = [
        "## docker-lab-grader",
        "",
        "| submission | lab | score | to fix | not run |",
        "|---|---|---|---|---|",
    ]
    for r in reports:
        todo = [f"`{c.id}`" for c in r.checks if c.status is Status.FAILED]
        todo += [f"⚠️ `{c.id}`" for c in r.checks if c.status is Status.ERROR]
        fixes = ", ".join(todo) or "✅"
        not_run = sum(c.status is Status.NOT_RUN for c in r.checks)
        score = f"{r.score:g}/{r.max_score:g}"
        lines.append(
            f"| {escape(r.submission)} | {escape(r.lab)} | {score} | {fixes} | {not_run} |"
        )
    counts = Counter(c.id for r in reports for c in r.checks if c.status is Status.FAILED)
    if counts:
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FAILED]
        lines += ["", "### most failed checks", ""]
        lines += [f"- `{cid}`: {n}" for cid, n in top]
    return "summary.md", "\n".join(lines) + "\n"

"""moodle-grades.csv: Moodle's offline grading worksheet, filled in, for "Upload grading
worksheet" (written when the class came from a Moodle export)."""

from __future__ import annotations

from grader.facts.results import SubmissionReport
from grader.i18n import t
from grader.report.cells import csv_text

FILENAME = "moodle-grades.csv"
COLUMNS = ("Identifier", "Full name", "Email address", "Grade", "Maximum grade",
           "Feedback comments")  # fmt: skip
"""The worksheet's columns (Moodle's English names): Moodle matches rows on ``Identifier``
(``Participant 101``) and reads ``Grade`` and ``Feedback comments``."""


def feedback(report: SubmissionReport) -> str:
    """A short comment in the report's language: the score, then what to fix."""
    lang = report.lang
    score = t("moodle.feedback", lang, lab=report.lab, score=f"{report.score:g}",
              max=f"{report.max_score:g}")  # fmt: skip
    todo = [c.id for c in report.checks if c.needs_work]
    fix = t("moodle.to_fix", lang, checks=", ".join(todo)) if todo else t("moodle.all_passed", lang)
    return " ".join((score, fix, t("moodle.report", lang)))


def render(reports: list[SubmissionReport]) -> tuple[str, str]:
    """The worksheet, one row per Moodle participant; no file ("") when none came from Moodle."""
    rows = [r for r in reports if r.facts.get("moodle_id")]
    if not rows:
        return "", ""
    table: list[list[str]] = [list(COLUMNS)]
    for r in rows:
        table.append([
            f"Participant {r.facts['moodle_id']}",
            str(r.facts.get("student") or ""),
            str(r.facts.get("email") or ""),
            f"{r.score:g}",
            f"{r.max_score:g}",
            feedback(r),
        ])  # fmt: skip
    return FILENAME, csv_text(table)  # every cell safe for spreadsheets (grader.report.cells)

"""The grades going back out: Moodle's grading worksheet, Classroom's result line, and the
identity the intake learnt in report.json, gradebook.csv and the dashboard."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

from grader.classrun.jobs import with_identity
from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.intake.identity import Identity
from grader.report import write_class
from grader.report.classroom import append_result_line


def sample(name: str, lang: str = "fr", **facts: object) -> SubmissionReport:
    fb = Feedback(summary="The page does not show the text.")
    checks = [
        CheckResult("build.succeeds", Status.PASSED, 2, 2, "built", None),
        CheckResult("http.root_text", Status.FAILED, 0, 2, fb.as_text(), fb),
        CheckResult("registry.pushed", Status.ERROR, 0, 1, "registry down", None),
        CheckResult("image.size", Status.FAILED, 0.5, 1, "", None),
        CheckResult("image.healthcheck", Status.ADVICE, 0, 0, "advice", None),
    ]
    return assemble(name, "tp6", checks, lang=lang, facts=dict(facts))


def test_moodle_grades_csv_is_the_offline_grading_worksheet(tmp_path: Path) -> None:
    claire = with_identity(sample("Claire Martin_101"), Identity("moodle", "Claire Martin",
                                                               moodle_id="101"))  # fmt: skip
    blind = with_identity(sample("Participant 7", "en"), Identity("moodle", "Participant 7",
                                                                moodle_id="7"))  # fmt: skip
    other = sample("tp6-ok")
    write_class([claire, blind, other], tmp_path)
    text = (tmp_path / "moodle-grades.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert [(r["Identifier"], r["Full name"], r["Grade"], r["Maximum grade"]) for r in rows] == [
        ("Participant 101", "Claire Martin", "2.5", "6"),
        ("Participant 7", "Participant 7", "2.5", "6"),
    ]
    assert rows[0]["Feedback comments"].startswith("TP Docker tp6 : 2.5/6. À corriger : ")
    assert "http.root_text, registry.pushed" in rows[0]["Feedback comments"]
    assert "image.healthcheck" not in rows[0]["Feedback comments"]  # advice is not "to fix"
    assert rows[1]["Feedback comments"].startswith("Docker lab tp6: 2.5/6. To fix: ")
    gradebook = list(csv.DictReader((tmp_path / "gradebook.csv").read_text("utf-8").splitlines()))
    assert [(g["student"], g["moodle_id"]) for g in gradebook][0] == ("Claire Martin", "101")
    assert "Claire Martin (#101)" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_no_worksheet_when_no_student_came_from_moodle(tmp_path: Path) -> None:
    write_class([sample("tp6-ok")], tmp_path)
    assert not (tmp_path / "moodle-grades.csv").exists()


def test_the_classroom_result_line_decodes_to_the_report(tmp_path: Path) -> None:
    report = sample("tp6-alice")
    output = tmp_path / "github_output"
    output.write_text("earlier=1\n")
    append_result_line(output, [report])
    lines = output.read_text().splitlines()
    assert lines[0] == "earlier=1" and lines[1].startswith("result=")
    data = json.loads(base64.b64decode(lines[1].removeprefix("result=")))
    assert (data["version"], data["status"], data["max_score"]) == (1, "error", 6)
    assert [(t["name"], t["status"], t["score"]) for t in data["tests"]] == [
        ("build.succeeds", "pass", 2),
        ("http.root_text", "fail", 0),
        ("registry.pushed", "error", 0),
        ("image.size", "fail", 0.5),
        ("image.healthcheck", "fail", 0),
    ]
    assert sum(t["score"] for t in data["tests"]) == report.score


def test_the_origin_round_trips_through_report_json() -> None:
    when, deadline = "2026-11-10T10:00:00+00:00", "2026-11-15T00:00:00+00:00"
    who = Identity("git", url="file:///r", sha="a" * 40, commit_date=when, later_commits=0,
                   deadline=deadline, graded_folder="TP6")  # fmt: skip
    report = with_identity(sample("tp6-alice", "en"), who)
    again = SubmissionReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.origin == {"kind": "git", "url": "file:///r", "sha": "a" * 40,
                            "commit_date": when, "later_commits": 0, "deadline": deadline,
                            "graded_folder": "TP6"}  # fmt: skip
    assert "Graded folder: TP6 (the submission's root holds no Dockerfile)." in again.notes
    assert f"Graded commit {'a' * 40} of {when}." in again.notes

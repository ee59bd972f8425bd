"""Standard result formats, each read back by an independent reader or validated by a schema."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import jsonschema
from junitparser import Error, Failure, JUnitXml

from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.report import gradebook, gradescope, html, junit, prairielearn, write_all, write_class

SCHEMAS = Path(__file__).parent / "schemas"


def sample(name: str = "alice", **facts: object) -> SubmissionReport:
    fb = Feedback(summary="The page does not show <b>the</b> text.", found='"Hello"', evidence="x")
    checks = [
        CheckResult("build.succeeds", Status.PASSED, 2, 2, "", None),
        CheckResult("http.root_text", Status.FAILED, 0, 2, fb.as_text(), fb),
        CheckResult("registry.pushed", Status.ERROR, 0, 1, "registry down", None),
        CheckResult("image.size", Status.NOT_RUN, 0, 1, "", None, blocked_by="build.succeeds"),
    ]
    return assemble(name, "tp6bis", checks, lang="en", facts=dict(facts))


def test_junit_reads_back_one_case_per_check() -> None:
    _, text = junit.render(sample())
    xml = JUnitXml.fromstring(text)
    (suite,) = list(xml)
    assert suite.name == "alice" and suite.tests == 4
    assert (suite.failures, suite.errors, suite.skipped) == (1, 1, 1)
    cases = {case.name: case for case in suite}
    assert set(cases) == {"build.succeeds", "http.root_text", "registry.pushed", "image.size"}
    assert cases["build.succeeds"].is_passed
    (failure,) = cases["http.root_text"].result
    assert isinstance(failure, Failure) and "<b>the</b>" in failure.message
    assert isinstance(cases["registry.pushed"].result[0], Error)
    assert cases["image.size"].is_skipped
    assert cases["http.root_text"].classname == "tp6bis.http"


def test_gradescope_results_validate_against_the_documented_format() -> None:
    _, text = gradescope.render(sample())
    data = json.loads(text)
    jsonschema.validate(data, json.loads((SCHEMAS / "gradescope-results.json").read_text()))
    assert data["score"] == 2
    statuses = {t["name"]: t["status"] for t in data["tests"]}
    assert statuses["build.succeeds"] == "passed" and statuses["registry.pushed"] == "failed"
    assert sum(t["max_score"] for t in data["tests"]) == 6


def test_prairielearn_results_validate_and_score_is_a_fraction() -> None:
    _, text = prairielearn.render(sample())
    data = json.loads(text)
    jsonschema.validate(data, json.loads((SCHEMAS / "prairielearn-results.json").read_text()))
    assert data["gradable"] is True and data["score"] == round(2 / 6, 4)
    assert [t["points"] for t in data["tests"]] == [2, 0, 0, 0]


def test_schemas_catch_a_wrong_document() -> None:
    bad = {"score": 1, "tests": [{"name": "x", "status": "error"}]}  # Gradescope knows no "error"
    schema = json.loads((SCHEMAS / "gradescope-results.json").read_text())
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("the Gradescope schema accepted an invalid status")


def test_gradebook_uses_the_declared_student_and_email() -> None:
    reports = [sample("alice", student="Alice Martin", email="alice@example.edu"), sample("bob")]
    _, text = gradebook.render(reports)
    rows = list(csv.DictReader(text.splitlines()))
    assert rows[0] == {
        "student": "Alice Martin",
        "email": "alice@example.edu",
        "submission": "alice",
        "score": "2",
        "max_score": "6",
        "moodle_id": "",
    }
    assert rows[1]["student"] == "" and rows[1]["email"] == ""  # never made up


def test_job_summary_lists_what_to_fix_and_escapes_names() -> None:
    _, text = gradebook.render_summary([sample("<img src=x>"), sample("carol")])
    assert "| 2/6 | `http.root_text`, ⚠️ `registry.pushed` | 1 |" in text
    assert not re.search(r"(?<!\\)<img", text) and "\\<img src=x\\>" in text


def test_every_format_is_written(tmp_path: Path) -> None:
    report = sample()
    folder = write_all(report, tmp_path)
    write_class([report], tmp_path)
    for name in ("junit.xml", "gradescope.json", "prairielearn.json", "report.html"):
        assert (folder / name).is_file(), name
    for name in ("summary.csv", "gradebook.csv", "summary.md"):
        assert (tmp_path / name).is_file(), name


def test_advice_not_followed_is_not_listed_as_to_fix() -> None:
    checks = [
        CheckResult("http.root_text", Status.FAILED, 0.0, 2.0, "wrong text"),
        CheckResult("image.healthcheck", Status.ADVICE, 0.0, 0.0, "no HEALTHCHECK"),
    ]
    report = assemble("dan", "tp6", checks, lang="en")
    _, text = gradebook.render_summary([report])
    assert "| dan | tp6 | 0/2 | `http.root_text` | 0 |" in text
    assert "(1 to fix)" in html.render(report)[1]


def test_junit_reads_advice_not_followed_as_a_skip_with_the_advice() -> None:
    checks = [
        CheckResult("http.root_text", Status.FAILED, 0.0, 2.0, "wrong text"),
        CheckResult("image.healthcheck", Status.ADVICE, 0.0, 0.0, "no HEALTHCHECK"),
    ]
    (suite,) = list(JUnitXml.fromstring(junit.render(assemble("eve", "tp6", checks))[1]))
    assert (suite.failures, suite.errors, suite.skipped) == (1, 0, 1)
    cases = {case.name: case for case in suite}
    (skip,) = cases["image.healthcheck"].result
    assert cases["image.healthcheck"].is_skipped
    assert skip.message == "advice not followed (no points): no HEALTHCHECK"
    assert isinstance(cases["http.root_text"].result[0], Failure)

"""grader/facts/results.py: JSON round-trips, score sums, status lookup, feedback as text."""

from __future__ import annotations

import json

from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble

FB = Feedback(
    summary="The page answers with status 500.",
    expected="HTTP 200",
    found="HTTP 500: Internal Server Error",
    fix="Check the route.",
    evidence="Traceback ...",
)


def results() -> list[CheckResult]:
    return [
        CheckResult("dockerfile.present", Status.PASSED, 1.0, 1.0, ""),
        CheckResult("http.root_status", Status.FAILED, 0.0, 2.0, FB.as_text(), FB),
        CheckResult("image.exposed_port", Status.ADVICE, 0.0, 0.0, "advice"),
        CheckResult("http.not_found", Status.NOT_RUN, 0.0, 1.0, "", blocked_by="run.starts"),
        CheckResult("run.starts", Status.ERROR, 0.0, 2.0, "engine down"),
        CheckResult("http.root_text", Status.PASSED, 1.5, 1.5, ""),
    ]


def report() -> SubmissionReport:
    return assemble(
        "alice",
        "tp6",
        results(),
        lang="fr",
        grader_version="0.1.0",
        notes=("Dockerfile found as dockerfile",),
        facts={"size_mb": 154.8, "exposed_ports": [8000], "user": "app"},
        build_log="Step 1/5 : FROM python\n",
        container_log="[INFO] Booting worker\n",
    )


def test_check_result_round_trip_without_feedback() -> None:
    check = results()[0]
    data = check.to_dict()
    assert data == {
        "id": "dockerfile.present",
        "status": "passed",
        "score": 1.0,
        "max_score": 1.0,
        "message": "",
        "feedback": None,
    }
    assert CheckResult.from_dict(data) == check


def test_check_result_round_trip_with_feedback_through_json() -> None:
    check = results()[1]
    data = json.loads(json.dumps(check.to_dict()))
    assert data["status"] == "failed"
    assert data["feedback"]["evidence"] == "Traceback ..."
    back = CheckResult.from_dict(data)
    assert back == check
    assert back.status is Status.FAILED


def test_submission_report_round_trip_through_json() -> None:
    rep = report()
    data = json.loads(json.dumps(rep.to_dict()))
    assert isinstance(data["checks"], list)
    assert data["notes"] == ["Dockerfile found as dockerfile"]
    assert SubmissionReport.from_dict(data) == rep


def test_submission_report_from_minimal_dict_uses_defaults() -> None:
    rep = SubmissionReport.from_dict(
        {"submission": "bob", "lab": "tp6", "score": 0, "max_score": 0, "checks": []}
    )
    assert rep == SubmissionReport("bob", "tp6", 0.0, 0.0, ())
    assert rep.lang == "en"


def test_assemble_sums_scores_and_maxima() -> None:
    rep = report()
    assert rep.score == 2.5
    assert rep.max_score == 7.5
    assert rep.checks == tuple(results())
    assert rep.lang == "fr"


def test_assemble_rounds_float_sums() -> None:
    checks = [CheckResult(f"c{i}", Status.PASSED, 0.1, 0.1, "") for i in range(3)]
    rep = assemble("x", "lab", checks)
    assert rep.score == 0.3
    assert rep.max_score == 0.3


def test_assemble_of_nothing() -> None:
    rep = assemble("x", "unknown", [])
    assert (rep.score, rep.max_score, rep.checks) == (0.0, 0.0, ())


def test_status_of() -> None:
    rep = report()
    assert rep.status_of("http.root_status") is Status.FAILED
    assert rep.status_of("run.starts") is Status.ERROR
    assert rep.status_of("no.such") is None


def test_feedback_as_text() -> None:
    assert FB.as_text() == (
        "The page answers with status 500.\n"
        "  expected: HTTP 200\n"
        "  found: HTTP 500: Internal Server Error\n"
        "  fix: Check the route."
    )
    assert Feedback("only a summary").as_text() == "only a summary"


def test_status_values() -> None:
    assert [s.value for s in Status] == ["passed", "failed", "not_run", "advice", "error"]

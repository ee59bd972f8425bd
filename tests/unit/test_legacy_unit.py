"""Reports written before schema_version 2 load converted (grader/grading/legacy.py): reuse,
--regrade.

The fixtures in reports_v1/ are real report.json files written by the grader at e9e7693, before
the statuses of issue 16: tp6-copy-no-slash (a broken build: every later check "failed" with a
"not run" message, advice "failed") and tp6-ok (all passed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from grader.classrun.reuse import previous_report, reusable
from grader.facts.results import CheckResult, Status
from grader.grading.legacy import not_run_key, read_report, upgrade, upgrade_check
from grader.report.regrade import compare

V1 = Path(__file__).parent / "reports_v1"


def v1(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((V1 / f"{name}.report.json").read_text(encoding="utf-8"))
    return data


def test_the_fixtures_are_version_1_reports_with_the_old_statuses() -> None:
    data = v1("tp6-copy-no-slash")
    assert "schema_version" not in data
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    assert statuses["run.starts"] == "failed" and statuses["image.healthcheck"] == "failed"


def test_a_version_1_cascade_loads_as_not_run_blocked_by_the_build(tmp_path: Path) -> None:
    (tmp_path / "tp6-copy-no-slash").mkdir()
    shutil.copy(V1 / "tp6-copy-no-slash.report.json", tmp_path / "tp6-copy-no-slash/report.json")
    old = previous_report(tmp_path, "tp6-copy-no-slash")
    assert old is not None
    by_id = {c.id: c for c in old.checks}
    assert by_id["build.succeeds"].status is Status.FAILED
    not_run = [c.id for c in old.checks if c.status is Status.NOT_RUN]
    assert len(not_run) == 13 and "run.starts" in not_run and "image.healthcheck" in not_run
    assert {by_id[i].blocked_by for i in not_run} == {"build.succeeds"}
    assert by_id["dockerfile.lint"].status is Status.ADVICE  # advice not followed, ran
    assert not any(c.status is Status.FAILED and c.is_advice for c in old.checks)
    assert (old.score, old.max_score) == (6.0, 20.0)  # scores unchanged
    assert reusable(old, old.reuse_key)  # nothing in error: still reusable with its key
    assert old.to_dict()["schema_version"] == 2


def test_a_version_1_report_of_passed_checks_loads_unchanged() -> None:
    old = read_report(v1("tp6-ok"))
    assert {c.status for c in old.checks} == {Status.PASSED}
    assert old.to_dict()["checks"] == [
        {k: v for k, v in c.items() if k != "blocked_by"} for c in v1("tp6-ok")["checks"]
    ]


def test_regrade_against_a_version_1_report_does_not_list_the_cascade_as_moves() -> None:
    old = read_report(v1("tp6-copy-no-slash"))
    again = read_report(old.to_dict())  # the same verdicts written as version 2
    assert not compare(old, again).moved
    label = next(c for c in again.checks if c.id == "dockerfile.label_maintainer")
    judged = CheckResult(label.id, Status.PASSED, 1.0, 1.0, "judged from the Dockerfile")
    fixed = [judged if c.id == label.id else c for c in again.checks]
    delta = compare(old, read_report({**again.to_dict(), "checks": [
        c.to_dict() for c in fixed]}))  # fmt: skip
    assert [(c.id, c.before, c.after, c.points) for c in delta.changes] == [
        ("dockerfile.label_maintainer", "not_run", "passed", 1.0)
    ]


def test_a_version_2_report_is_read_as_written() -> None:
    own = {"id": "http.root_text", "status": "failed", "score": 0, "max_score": 2,
           "message": "Not run: the image does not build."}  # fmt: skip
    data = {"schema_version": 2, "submission": "a", "lab": "tp6", "score": 0, "max_score": 2,
            "checks": [own]}  # fmt: skip
    assert read_report(data).checks[0].status is Status.FAILED


def test_not_run_messages_are_recognised_in_both_languages() -> None:
    assert not_run_key("Not run: the image does not build.") == "build_failed"
    assert not_run_key("Non évalué : l'image ne se construit pas.") == "build_failed"
    assert not_run_key(
        "Non évalué : le conteneur s'est arrêté au démarrage (code de sortie 3)."
    ) == ("container_exited")
    assert not_run_key("The page does not show the text.") is None


def test_a_version_1_rejection_is_the_dockerfile_s_unless_it_was_read() -> None:
    rejected = "Not run: the submission cannot be graded: the build context is 3 MB."
    checks = [
        {"id": "dockerfile.present", "status": "passed", "score": 1, "max_score": 1, "message": ""},
        {"id": "run.starts", "status": "failed", "score": 0, "max_score": 2, "message": rejected},
    ]
    assert upgrade({"checks": checks})["checks"][1]["blocked_by"] == "build.succeeds"
    checks[0] = {**checks[0], "status": "failed", "message": "binary"}
    assert upgrade({"checks": checks})["checks"][1]["blocked_by"] == "dockerfile.present"


def test_each_version_1_status_converts() -> None:
    never_ready = "Not run: nothing listens in the container after 30 s."
    check = {"score": 0, "max_score": 2, "message": never_ready}
    # the check whose own subject the failure is keeps it; the others did not run
    assert upgrade_check({**check, "id": "http.root_status", "status": "failed"})["status"] == (
        "failed"
    )
    text = upgrade_check({**check, "id": "http.root_text", "status": "failed"})
    assert (text["status"], text["blocked_by"]) == ("not_run", "http.root_status")
    assert upgrade_check({**check, "id": "x", "status": "skipped"})["status"] == "not_run"
    advice = {"id": "image.healthcheck", "status": "failed", "score": 0, "max_score": 0,
              "message": "No HEALTHCHECK."}  # fmt: skip
    assert upgrade_check(advice)["status"] == "advice"
    assert upgrade({"checks": [advice]})["schema_version"] == 2

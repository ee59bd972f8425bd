"""grader/classrun/reuse.py and the report's reuse key: what makes a previous report reusable."""

from __future__ import annotations

import json
from pathlib import Path

from grader import __version__
from grader.classrun.reuse import code_digest, grader_digest, previous_report, reusable, reuse_key
from grader.facts.results import CheckResult, Status, SubmissionReport, assemble
from grader.grading.settings import Options
from grader.report import write_all


def _report(status: Status = Status.PASSED, key: str = "k1") -> SubmissionReport:
    checks = [CheckResult("run.starts", status, 2.0 if status is Status.PASSED else 0.0, 2.0, "")]
    return assemble("alice", "tp6", checks, grader_version="0.1.0", reuse_key=key)


def test_reuse_key_changes_with_every_input() -> None:
    base = reuse_key("files", b"lab", Options(), "1.0", secret=b"k")
    assert base == reuse_key("files", b"lab", Options(), "1.0", secret=b"k")
    others = {
        reuse_key("files2", b"lab", Options(), "1.0", secret=b"k"),
        reuse_key("files", b"lab ", Options(), "1.0", secret=b"k"),
        reuse_key("files", b"lab", Options(lang="en"), "1.0", secret=b"k"),
        reuse_key("files", b"lab", Options(memory="1g"), "1.0", secret=b"k"),
        reuse_key("files", b"lab", Options(), "1.1", secret=b"k"),
    }
    assert base not in others and len(others) == 5


def test_reuse_key_round_trips_in_report_json() -> None:
    report = _report(key="abc")
    again = SubmissionReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report and again.reuse_key == "abc"
    old = report.to_dict()
    del old["reuse_key"]  # a report written before the key existed
    assert SubmissionReport.from_dict(old).reuse_key == ""


def test_reusable_needs_the_same_key_and_no_error() -> None:
    assert reusable(_report(), "k1")
    assert reusable(_report(Status.FAILED), "k1")
    assert not reusable(_report(), "k2")
    assert not reusable(None, "k1")
    assert not reusable(_report(key=""), "")
    assert not reusable(_report(Status.ERROR), "k1")  # the engine's fault may have passed


def test_previous_report_reads_what_write_all_wrote(tmp_path: Path) -> None:
    report = _report(key="xyz")
    write_all(report, tmp_path)
    assert previous_report(tmp_path, "alice") == report
    assert previous_report(tmp_path, "bob") is None
    (tmp_path / "alice" / "report.json").write_text("{not json", encoding="utf-8")
    assert previous_report(tmp_path, "alice") is None


def _errored(cause: str) -> SubmissionReport:
    checks = [
        CheckResult("run.starts", Status.PASSED, 2.0, 2.0, ""),
        CheckResult("registry.pushed", Status.ERROR, 0.0, 1.0, "", None, cause),
    ]
    return assemble("alice", "tp6bis", checks, grader_version="0.1.0", reuse_key="k1")


def test_an_unreachable_registry_does_not_stop_reuse_but_our_own_errors_do() -> None:
    assert reusable(_errored("registry"), "k1")
    assert not reusable(_errored("registry"), "k2")
    for ours in ("engine", "tool", "internal", "machine", ""):  # "": a report that does not say
        assert not reusable(_errored(ours), "k1"), ours


def test_a_build_that_failed_for_the_registry_s_or_network_s_reasons_is_graded_again() -> None:
    # issue 16.3: a base image the machine could not pull is never kept as the verdict
    for cause in ("registry", "machine"):
        checks = [CheckResult("build.succeeds", Status.ERROR, 0.0, 2.0, "", None, cause)]
        report = assemble("bob", "tp6", checks, grader_version="0.1.0", reuse_key="k1")
        assert not reusable(report, "k1"), cause


def test_the_cause_of_an_error_round_trips_and_only_errors_carry_one() -> None:
    report = _errored("registry")
    data = json.loads(json.dumps(report.to_dict()))
    assert [c.get("cause") for c in data["checks"]] == [None, "registry"]
    assert SubmissionReport.from_dict(data) == report


def test_a_change_to_the_graders_code_changes_the_key_whatever_the_version(
    tmp_path: Path,
) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.toml"
    a.write_text("x = 1\n")
    b.write_text("k = 1\n")
    before = code_digest("1.0", [a, b])
    assert before.startswith("1.0+") and before == code_digest("1.0", [b, a, a])
    a.write_text("x = 2\n")
    assert code_digest("1.0", [a, b]) != before
    assert grader_digest().startswith(__version__ + "+")  # what key_of puts in the key

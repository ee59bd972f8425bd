"""grader/report: report.html and the class dashboard as HTML text (Chromium tests: integration)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.i18n import LANGS, catalogue
from grader.report import dashboard, html
from grader.report.charts import columns, rows, short
from grader.report.regrade import compare

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "grader" / "report"
SCRIPT = "<script>alert(1)</script>"

FULL_FACTS: dict[str, Any] = {
    "size_bytes": 231_223_438,
    "single_stage_bytes": 238_418_272,
    "saving_bytes": 7_194_834,
    "saving_percent": 3.0,
    "layers": 5,
    "user": "node",
    "uid": 1000,
    "process_uid": 1000,
    "exposed_ports": [3000],
    "entrypoint": ["docker-entrypoint.sh"],
    "cmd": ["node", "index.js"],
    "workdir": "/app",
    "listening": "0.0.0.0:3000",
    "labels": {"maintainer": SCRIPT, "org.docker-lab-grader.run": "abc"},
    "stages": [
        {"index": 0, "name": "build", "base": "node:18", "runs": ["npm ci", SCRIPT]},
        {"index": 1, "name": None, "base": "node:18-slim", "runs": []},
    ],
}


def rep(name: str, score_of: list[Status], lang: str = "en", **facts: Any) -> SubmissionReport:
    fb = Feedback(summary=SCRIPT, expected="e", found=SCRIPT, fix="f", evidence=SCRIPT)
    checks = [
        CheckResult(f"check.n{i}", s, 1.0 if s is Status.PASSED else 0.0, 1.0, SCRIPT, fb)
        for i, s in enumerate(score_of)
    ]
    return assemble(name, "tp6", checks, lang=lang, facts=dict(facts), build_log=SCRIPT)


P, F, E, N = Status.PASSED, Status.FAILED, Status.ERROR, Status.NOT_RUN


def test_report_html_shows_every_fact_with_a_translated_label() -> None:
    page = html.render(rep("a", [P, F], **FULL_FACTS))[1]
    for label, value in [
        ("Size", "231.2 MB"),
        ("Size without multi-staging", "238.4 MB"),
        ("Saved by multi-staging", "7.2 MB (3.0 %)"),
        ("Layers", "5"),
        ("User", "node (uid 1000)"),
        ("Exposed ports", "3000"),
        ("CMD", "node index.js"),
        ("Label maintainer", "&lt;script&gt;"),
    ]:
        assert re.search(f"<th>{re.escape(label)}</th><td>{re.escape(value)}", page), label
    assert "org.docker-lab-grader" not in page  # the grader's own labels are not the student's
    assert page.count('<tr id="check-') == 2
    assert "<script" not in page


def test_report_html_layer_table_replaces_the_layer_count() -> None:
    table = [
        {"instruction": "FROM node:18-slim", "size_bytes": 180_000_000},
        {"instruction": "RUN " + "x" * 500, "size_bytes": 2_500},
        {"instruction": "USER node", "size_bytes": 0},
    ]
    page = html.render(rep("a", [P], **FULL_FACTS, layer_table=table))[1]
    assert '<table id="layers">' in page
    assert re.findall(r'data-bytes="(\d+)">([^<]+)<', page) == [
        ("180000000", "180.0 MB"),
        ("2500", "2.5 kB"),
        ("0", "0 B"),
    ]
    assert "RUN " + "x" * 296 + "…" in page and "x" * 297 not in page
    assert "<th>Layers</th>" not in page  # the count row gives way to the table
    assert '<table id="layers">' not in html.render(rep("a", [P], layers=4))[1]


def test_report_html_tolerates_odd_facts() -> None:
    odd = {"layer_table": "nope", "stages": 3, "size_bytes": "big", "labels": [1], "user": ""}
    page = html.render(rep("a", [P], **odd))[1]
    assert "<th>User</th><td>root</td>" in page and '<table id="layers">' not in page


def test_dashboard_lists_every_submission_with_failed_checks_and_links() -> None:
    reports = [rep("b", [P, F, E]), rep("a b/é", [P, P, P], size_bytes=5_000_000)]
    page = dashboard.render(reports)[1]
    assert re.findall(r'<tr data-submission="([^"]+)">', page) == ["b", "a b/é"]
    assert '<a href="a%20b%2F%C3%A9/report.html">' in page
    assert '<code class="failed">check.n1</code>, <code class="failed">check.n2</code>' in page
    assert 'data-value="33.3"' in page and 'data-value="100.0"' in page
    assert "5.0 MB" in page
    assert page.count("<script>") == 1  # ours only
    marked = dashboard.render([rep(f"x{SCRIPT}", [F], student=SCRIPT)])[1]
    assert marked.count("<script>") == 1 and SCRIPT not in marked
    assert marked.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # name, link text, student


def test_score_distribution_has_ten_buckets_and_100_percent_in_the_last() -> None:
    chart = dashboard.score_chart([rep("a", [P]), rep("b", [F]), rep("c", [P, F]), rep("d", [])])
    assert [b.value for b in chart.bars] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]  # d: no points
    assert chart.bars[-1].label == "90–100 %" and chart.bars[0].label == "0–9 %"


def test_most_failed_checks_counts_failures_only() -> None:
    chart = dashboard.failed_chart([rep("a", [F, E, P]), rep("b", [P, E, N]), rep("c", [F])])
    assert [(b.label, b.value) for b in chart.bars] == [("check.n0", 2)]


def test_bars_are_proportional() -> None:
    chart = rows("x", [("a", 10, "10"), ("b", 5, "5"), ("c", 0, "0")])
    assert [b.width for b in chart.bars] == [170.0, 85.0, 0.0]
    col = columns("y", [("a", 4, "4"), ("b", 1, "1")], height=180)
    assert col.bars[0].height == 4 * col.bars[1].height
    assert short("x" * 40) == "x" * 27 + "…"


def test_dashboard_shows_deltas_only_when_given() -> None:
    now = rep("a", [P, P])
    page = dashboard.render([now], [compare(rep("a", [F, P]), now)])[1]
    assert 'id="regrade"' in page and "1 → 2" in page and "+1" in page
    assert "check.n0</code>: failed → passed (+1)" in page
    assert 'id="regrade"' not in dashboard.render([now])[1]
    same = dashboard.render([now], [compare(now, now)])[1]
    assert "No score or check changed" in same


def test_an_empty_class_renders() -> None:
    page = dashboard.render([])[1]
    assert "0 submissions" in page and "Nothing to show." in page


KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_]+)["'][,)]""")
DYNAMIC = [
    *(f"report.{k}" for k in ("expected", "found", "fix", "build_log", "container_log")),
    *(f"report.fact_{k}" for k in ("exposed_ports", "entrypoint", "cmd", "workdir", "listening")),
    "dashboard.part_dockerfile",
    "dashboard.part_files",
]


def used_keys() -> set[str]:
    files = [*REPORT.glob("*.py"), *(REPORT / "templates").glob("*.j2")]
    found = {k for f in files for k in KEY.findall(f.read_text(encoding="utf-8"))}
    assert len(found) > 30  # the scan works
    return found | set(DYNAMIC)


@pytest.mark.parametrize("lang", LANGS)
def test_every_sentence_of_the_html_reports_is_in_both_catalogues(lang: str) -> None:
    cat = catalogue(lang)
    missing = [
        k
        for k in sorted(used_keys())
        if not isinstance(cat.get(k.split(".")[0], {}).get(k.split(".")[1]), str)
    ]
    assert missing == []


@pytest.mark.parametrize("lang", LANGS)
def test_rendered_pages_show_no_raw_message_key(lang: str) -> None:
    full = rep("a", [P, F, E], lang=lang, **FULL_FACTS)
    pages = [html.render(full)[1], dashboard.render([full], [compare(None, full)])[1]]
    for page in pages:
        assert re.findall(r"\b(?:dashboard|html)\.[a-z_]+", page) == []
        assert re.findall(r"\breport\.(?!html\b)[a-z_]+", page) == []


def test_advice_failures_are_shown_apart_and_left_out_of_the_failed_chart() -> None:
    advice = CheckResult("image.healthcheck", Status.ADVICE, 0.0, 0.0, "no HEALTHCHECK")
    report = assemble("a", "tp6", [CheckResult("http.root_text", F, 0.0, 2.0, ""), advice])
    (row,) = dashboard.class_rows([report], [])
    assert (row.failed, row.advice) == (("http.root_text",), ("image.healthcheck",))
    assert [b.label for b in dashboard.failed_chart([report]).bars] == ["http.root_text"]
    page = dashboard.render([report])[1]
    assert '<span class="advice">advice (no points): <code>image.healthcheck</code></span>' in page

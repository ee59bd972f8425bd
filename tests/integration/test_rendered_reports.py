"""report.html and index.html as headless Chromium renders them: sorted, charted, offline."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from browser import Node, external_urls, parse, rendered, screenshot

from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.intake.integrity import fingerprint
from grader.report import write_all, write_class
from grader.report.regrade import compare

MARKUP = '<script>document.title="owned"</script><img src=x onerror=alert(1)>'
COPY_A = 'FROM python:3.11-slim AS s\nWORKDIR /srv/zz\nRUN pip install gevent==23.9.1 flask-cors==4.0.0\nRUN groupadd -g 1501 q && useradd -u 1501 -g q -M q\nUSER q\nENTRYPOINT ["gunicorn", "--worker-class", "gevent", "app:app"]\n'  # noqa: E501
COPY_B = "# mine\nfrom python:3.11-slim as base\nworkdir /srv/zz\nrun pip install gevent==23.9.1 \\\n  flask-cors==4.0.0\nrun groupadd -g 1501 q && useradd -u 1501 -g q -M q\nuser q\nentrypoint gunicorn --worker-class gevent app:app\n"  # noqa: E501
ZOE = 'FROM node:18-slim\nWORKDIR /home/node\nCOPY . .\nUSER node\nCMD ["node", "server.js"]\n'
OTHER = 'FROM python:3.12-alpine\nRUN adduser -D -u 2000 w\nUSER 2000\nCMD ["python", "app.py"]\n'


def student(
    name: str, passed: int, failed: list[str], size: int | None, tmp: Path, dockerfile: str
) -> SubmissionReport:
    checks = [CheckResult(f"dockerfile.c{i}", Status.PASSED, 1.0, 1.0, "") for i in range(passed)]
    fb = Feedback(summary=f"Not as asked: {MARKUP}", found=MARKUP, fix="Fix it.", evidence=MARKUP)
    checks += [CheckResult(cid, Status.FAILED, 0.0, 1.0, fb.as_text(), fb) for cid in failed]
    root = tmp / "src" / name
    root.mkdir(parents=True)
    (root / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    facts: dict[str, Any] = {"fingerprint": fingerprint(root), "user": "q", "layers": 3}
    if size is not None:
        facts["size_bytes"] = size
    return assemble(name, "tp6", checks, lang="en", facts=facts, build_log=MARKUP)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small class written as the batch writes it, with a regrade's deltas."""
    tmp = tmp_path_factory.mktemp("synthetic")
    reports = [
        student("alice", 9, ["http.root_text"], 130_000_000, tmp, COPY_A),
        student("bob", 10, [], 125_000_000, tmp, COPY_B),
        student(f"eve{MARKUP}", 3, ["http.root_text", "run.starts"], None, tmp, OTHER),
        student("zoe", 6, ["http.root_text", "run.starts", "build.succeeds"], 990_000_000, tmp,
                ZOE),
    ]  # fmt: skip
    layered = reports[1].facts | {
        "layer_table": [
            {"instruction": "FROM python:3.11-slim", "size_bytes": 120_000_000},
            {"instruction": f"RUN pip install {MARKUP}", "size_bytes": 5_000_000},
            {"instruction": "USER q", "size_bytes": 0},
        ]
    }
    reports[1] = assemble("bob", "tp6", list(reports[1].checks), lang="en", facts=layered)
    earlier = [
        CheckResult(c.id, Status.FAILED, 0.0, 1.0, "") if c.id == "dockerfile.c0" else c
        for c in reports[0].checks
    ]
    deltas = [
        compare(assemble("alice", "tp6", earlier, lang="en"), reports[0]),
        compare(reports[1], reports[1]),  # unchanged: not listed as moved
        compare(None, reports[3]),  # new
    ]
    out = tmp / "reports"
    for r in reports:
        write_all(r, out)
    write_class(reports, out, deltas)
    return {"out": out, "reports": reports}


def class_order(page: Node) -> list[str]:
    table = page.find("table", id="class")
    return [
        row.attrs["data-submission"]
        for row in table.find_all("tr")
        if "data-submission" in row.attrs
    ]


def test_the_dashboard_sorts_by_score_when_a_header_is_clicked(synthetic: dict[str, Any]) -> None:
    index = synthetic["out"] / "index.html"
    up = rendered(index, "sort=score")
    assert class_order(up) == [f"eve{MARKUP}", "zoe", "alice", "bob"]  # 3/5, 6/9, 9/10, 10/10
    assert up.find("th", data_key="score").attrs["aria-sort"] == "ascending"
    # the header now links to the reverse order, as a second click does
    assert up.find("th", data_key="score").find("a").attrs["href"] == "#sort=-score"
    down = rendered(index, "sort=-score")
    assert class_order(down) == ["bob", "alice", "zoe", f"eve{MARKUP}"]
    assert down.find("th", data_key="score").attrs["aria-sort"] == "descending"


def test_the_dashboard_sorts_sizes_and_names(synthetic: dict[str, Any]) -> None:
    index = synthetic["out"] / "index.html"
    assert class_order(rendered(index, "sort=-size")) == ["zoe", "alice", "bob", f"eve{MARKUP}"]
    assert class_order(rendered(index, "sort=submission")) == [
        "alice",
        "bob",
        f"eve{MARKUP}",
        "zoe",
    ]
    assert class_order(rendered(index, "sort=-failed"))[0] == "zoe"


def test_without_javascript_the_table_is_all_there(synthetic: dict[str, Any]) -> None:
    static = parse((synthetic["out"] / "index.html").read_text(encoding="utf-8"))
    assert class_order(static) == ["alice", "bob", f"eve{MARKUP}", "zoe"]  # as graded
    row = static.find("tr", data_submission="zoe")
    assert "6 / 9" in row.text and "990.0 MB" in row.text and "build.succeeds" in row.text


def test_the_charts_have_one_bar_per_bucket_check_and_image(synthetic: dict[str, Any]) -> None:
    page = rendered(synthetic["out"] / "index.html")
    scores = page.find("svg", id="chart-scores").find_all("rect")
    assert len(scores) == 10
    counts = [float(r.attrs["data-value"]) for r in scores]
    assert counts == [0, 0, 0, 0, 0, 0, 2, 0, 0, 2]  # 60 %, 66 %, 90 %, 100 %
    failed = page.find("svg", id="chart-failed").find_all("rect")
    assert [(r.attrs["data-label"], float(r.attrs["data-value"])) for r in failed] == [
        ("http.root_text", 3),
        ("run.starts", 2),
        ("build.succeeds", 1),
    ]
    sizes = page.find("svg", id="chart-sizes").find_all("rect")
    assert [r.attrs["data-label"] for r in sizes] == ["zoe", "alice", "bob"]  # eve: no image
    widths = [float(r.attrs["width"]) for r in sizes]
    assert widths == sorted(widths, reverse=True) and widths[0] > 5 * widths[1]


def test_the_dashboard_shows_who_moved_and_the_near_duplicates(synthetic: dict[str, Any]) -> None:
    page = rendered(synthetic["out"] / "index.html")
    moved = page.find("table", id="moved").find_all("tr", data_submission="alice")
    assert len(moved) == 1
    assert "8 → 9" in moved[0].text and "+1" in moved[0].text
    assert "dockerfile.c0 : failed → passed (+1)" in moved[0].text
    listed = [r.attrs["data-submission"] for r in page.find("table", id="moved").find_all("tr")[1:]]
    assert listed == ["alice", "zoe"]  # bob did not move; zoe is new
    assert page.find("td", data_value="1.0").text == "+1"  # alice's change column
    pairs = page.find("table", id="pairs").find_all("tr")[1:]
    assert [p.text for p in pairs] == ["tp6 alice ↔ bob Dockerfile 100 % 28"]
    assert "not a verdict" in page.find("p", class_="note").text


def test_report_html_renders_feedback_layers_and_markup_as_text(
    synthetic: dict[str, Any], tmp_path: Path
) -> None:
    page = rendered(synthetic["out"] / "bob" / "report.html")
    assert page.find_all("script") == [] and page.find_all("img") == []
    layers = page.find("table", id="layers").find_all("tr")[1:]
    assert [row.find_all("td")[2].text for row in layers] == ["120.0 MB", "5.0 MB", "0 B"]
    assert MARKUP in layers[1].text  # shown as text, not run
    assert "Layers" not in [
        row.find("th").text for row in page.find("table", id="facts").find_all("tr")
    ]
    eve = synthetic["out"] / f"eve{MARKUP}" / "report.html"
    eve_page = rendered(eve)
    assert eve_page.find_all("script") == [] and eve_page.find_all("img") == []
    assert eve_page.find("title").text == f"eve{MARKUP} — tp6"  # the title was not rewritten
    rows = eve_page.find("table", id="checks").find_all("tr", data_status="failed")
    assert [r.attrs["data-check"] for r in rows] == ["http.root_text", "run.starts"]
    assert "Expected" not in rows[0].text and "Found" in rows[0].text and MARKUP in rows[0].text
    facts = {
        r.find("th").text: r.find("td").text
        for r in eve_page.find("table", id="facts").find_all("tr")
    }
    assert facts == {"Layers": "3", "User": "q"}
    shot = screenshot(eve, tmp_path / "eve.png")
    assert shot.stat().st_size > 10_000


def test_the_pages_need_no_network_and_links_lead_to_reports(synthetic: dict[str, Any]) -> None:
    out = synthetic["out"]
    index = rendered(out / "index.html")
    assert external_urls(index) == []
    links = [a.attrs["href"] for a in index.find("table", id="class").find_all("a")]
    targets = [h for h in links if not h.startswith("#")]
    assert len(targets) == 4
    for href in targets:
        assert (out / unquote(href)).is_file(), href
    assert len(index.find_all("script")) == 1  # ours, the sort
    for r in synthetic["reports"]:
        assert external_urls(rendered(out / r.submission / "report.html")) == []


# -- the class the integration suite grades once ---------------------------------------------


def test_the_graded_class_dashboard_renders(graded_class: dict[str, Any]) -> None:
    out: Path = graded_class["out"]
    reports: dict[str, Any] = graded_class["reports"]
    page = rendered(out / "index.html", "sort=-score")
    order = class_order(page)
    assert sorted(order) == sorted(reports)
    percents = [reports[n]["score"] / reports[n]["max_score"] for n in order]
    assert percents == sorted(percents, reverse=True)
    assert order[-1] == "tp6-no-dockerfile"
    assert external_urls(page) == []
    built = [n for n, r in reports.items() if "size_bytes" in r["facts"]]
    assert len(page.find("svg", id="chart-sizes").find_all("rect")) == len(built) > 5
    counts = Counter(
        c["id"] for r in reports.values() for c in r["checks"] if c["status"] == "failed"
    )  # the chart counts failed checks only: no cascade (not_run), no advice, no error
    first = page.find("svg", id="chart-failed").find_all("rect")[0]
    assert float(first.attrs["data-value"]) == max(counts.values())
    # the bundled submissions derive from one another through the labs' skeleton, which does
    # not count; beyond it, the tp6 examples made by copying tp6-ok keep its HEALTHCHECK, which
    # no other has: exactly those are paired, each with each, on their Dockerfile
    subs = Path(__file__).resolve().parents[2] / "submissions"
    line = next(
        x for x in (subs / "tp6-ok/Dockerfile").read_text().splitlines() if "HEALTHCHECK" in x
    )
    dockerfiles = [(p.name, p / "Dockerfile") for p in subs.glob("tp6-*")]
    copies = sorted(n for n, f in dockerfiles if f.is_file() and line in f.read_text("utf-8"))
    assert len(copies) >= 3 and "tp6-ok" in copies
    rows = [p.find_all("td") for p in page.find("table", id="pairs").find_all("tr")[1:]]
    found = {tuple(sorted(r[1].text.split(" ↔ "))) for r in rows}
    assert found == set(itertools.combinations(copies, 2))
    assert {r[2].text for r in rows} == {"Dockerfile"}
    assert all(r["facts"].get("fingerprint", {}).get("v") == 1 for r in reports.values())


def test_a_graded_report_html_renders(graded_class: dict[str, Any]) -> None:
    out: Path = graded_class["out"]
    data = json.loads((out / "tp6-root-user" / "report.json").read_text(encoding="utf-8"))
    page = rendered(out / "tp6-root-user" / "report.html")
    rows = page.find("table", id="checks").find_all("tr")[1:]
    assert [r.attrs["data-check"] for r in rows] == [c["id"] for c in data["checks"]]
    assert [r.attrs["data-check"] for r in rows if r.attrs["data-status"] != "passed"] == [
        "image.user_non_root",
        "image.healthcheck",  # advice: the bonus HEALTHCHECK is only in tp6-ok
    ]
    facts = {
        r.find("th").text: r.find("td").text for r in page.find("table", id="facts").find_all("tr")
    }
    assert facts["Taille"].endswith("MB") and facts["Utilisateur"].startswith("root")
    assert "Label maintainer" in facts
    assert not any(k.startswith("Label org.docker-lab-grader") for k in facts)
    assert external_urls(page) == []


# -- the README's pictures ---------------------------------------------------------------------

PICTURES = Path(__file__).resolve().parents[2] / "docs" / "img"
PICTURED = "tp6-wrong-text"
"""The student whose report the README shows: one mistake, every other check passed."""


def _what_the_pictures_show(out: Path) -> dict[str, Any]:
    """What the README's pictures must show, read from the pages as Chromium renders them:
    the report's checks and statuses, the dashboard's columns, students and charts (no times,
    no sizes: those move from run to run)."""
    report = rendered(out / PICTURED / "report.html")
    rows = report.find("table", id="checks").find_all("tr")[1:]
    board = rendered(out / "index.html")
    return {
        "report": [[r.attrs["data-check"], r.attrs["data-status"]] for r in rows],
        "report_headings": [h.text for h in report.iter() if h.tag in ("h1", "h2")],
        "dashboard_columns": [th.text for th in board.find("table").find_all("th")],
        "dashboard_students": sorted(class_order(board)),
        "dashboard_charts": sorted(n.attrs["id"] for n in board.find_all("svg") if "id" in n.attrs),
    }


def test_the_readme_pictures_show_what_the_grader_writes(
    graded_class: dict[str, Any], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """docs/img/*.png are screenshots of the bundled class's pages; pictures.json says what
    they showed. When the pages change, this fails until ``--update-goldens`` takes them again."""
    out: Path = graded_class["out"]
    shown = _what_the_pictures_show(out)
    record = PICTURES / "pictures.json"
    if request.config.getoption("--update-goldens"):
        PICTURES.mkdir(parents=True, exist_ok=True)
        screenshot(out / PICTURED / "report.html", PICTURES / "student-report.png", "1000,1400")
        screenshot(out / "index.html", PICTURES / "class-dashboard.png", "1400,1400")
        record.write_text(json.dumps(shown, indent=1, ensure_ascii=False) + "\n", "utf-8")
    for name in ("student-report.png", "class-dashboard.png"):
        assert (PICTURES / name).read_bytes().startswith(b"\x89PNG"), name
    assert json.loads(record.read_text(encoding="utf-8")) == shown, (
        "the pages changed since the README's pictures were taken: "
        "pytest tests/integration/test_rendered_reports.py --update-goldens"
    )

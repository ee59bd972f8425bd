"""Class runs in parallel (-j 2), reuse of unchanged reports, --force, --regrade, for real."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.cli.entry import main

pytestmark = [pytest.mark.docker, pytest.mark.slow]
BIN = Path(sys.executable).parent
GOLDENS = Path(__file__).parent / "goldens"
PARALLEL = ["tp6-no-dockerfile", "tp6-ok", "tp6-root-user", "tp6-wrong-port", "tp6-wrong-text"]


def golden(lab: str, name: str) -> dict[str, str]:
    """The expected status of every check of one bundled submission."""
    table: dict[str, dict[str, str]] = tomllib.loads((GOLDENS / f"{lab}.toml").read_text())
    return table[name]


def statuses(out: Path, name: str) -> dict[str, str]:
    report = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return {c["id"]: c["status"] for c in report["checks"]}


def test_two_workers_give_the_golden_verdicts_in_plain_lines(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any]
) -> None:
    klass = tmp_path / "class"
    for name in PARALLEL:
        shutil.copytree(repo_root / "submissions" / name, klass / name)
    out = tmp_path / "reports"
    proc = subprocess.run(
        [str(BIN / "grade"), str(klass), "--output", str(out), "-j", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # not a terminal: one plain line per submission, in the class's order, then the summary
    assert [line.split()[0] for line in lines[: len(PARALLEL)]] == PARALLEL
    assert lines[len(PARALLEL)].startswith(f"{len(PARALLEL)} graded, reports in ")
    assert len(lines) == len(PARALLEL) + 1
    assert "\x1b" not in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    for name in PARALLEL:
        assert statuses(out, name) == golden("tp6", name), name
    with (out / "summary.csv").open(encoding="utf-8") as f:
        assert sorted(row["submission"] for row in csv.DictReader(f)) == PARALLEL
    assert leftovers() == ([], [])


def _grade(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, str]:
    """Run ``grade`` in-process; each submission's line, by name, and the whole output."""
    assert main([*args, "--lab", "tp6", "--lang", "en", "-j", "2"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("s-")}
    return {**lines, "": out}


def test_reuse_force_and_regrade(
    repo_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    leftovers: Callable[[], Any],
) -> None:
    klass = tmp_path / "class"
    sources = {"s-ok": "tp6-ok", "s-text": "tp6-wrong-text", "s-root": "tp6-root-user"}
    for name, source in sources.items():
        shutil.copytree(repo_root / "submissions" / source, klass / name)
    out = tmp_path / "reports"
    args = (str(klass), "--output", str(out))

    first = _grade(capsys, *args)
    assert not any("reused" in first[n] for n in sources)
    reports = {n: (out / n / "report.json").read_text(encoding="utf-8") for n in sources}
    keys = {n: json.loads(r)["reuse_key"] for n, r in reports.items()}
    assert all(len(k) == 64 for k in keys.values()) and len(set(keys.values())) == 3

    (out / "summary.csv").unlink()  # the class files are rewritten from every report, reused too
    again = _grade(capsys, *args)
    assert all("(0.0 s)  reused" in again[n] for n in sources)
    assert {n: (out / n / "report.json").read_text(encoding="utf-8") for n in sources} == reports
    with (out / "summary.csv").open(encoding="utf-8") as f:
        assert sorted(row["submission"] for row in csv.DictReader(f)) == sorted(sources)

    app = klass / "s-text" / "app.py"  # the student fixes the text: only that one is regraded
    app.write_text(app.read_text().replace("Hello World!", "Hello Docker!"), encoding="utf-8")
    regraded = _grade(capsys, *args, "--regrade")
    assert "reused" in regraded["s-ok"] and "reused" in regraded["s-root"]
    assert "reused" not in regraded["s-text"] and "failed" not in regraded["s-text"]
    fixed = {**golden("tp6", "tp6-wrong-text"), "http.root_text": "passed"}
    assert statuses(out, "s-text") == fixed  # (it has no HEALTHCHECK, unlike tp6-ok)
    text = regraded[""]
    assert "regrade: 1 of 3 submission(s) moved" in text
    assert "  s-text: 18 -> 20/20  (+2)" in text
    assert "      http.root_text: failed -> passed (+2)" in text
    deltas = json.loads((out / "regrade.json").read_text(encoding="utf-8"))["deltas"]
    assert [d["submission"] for d in deltas] == ["s-text"]
    assert deltas[0]["changes"] == [
        {"id": "http.root_text", "before": "failed", "after": "passed", "points": 2.0}
    ]
    dashboard = (out / "index.html").read_text(encoding="utf-8")  # the dashboard shows it too
    moved = dashboard.split('<table id="moved">', 1)[1].split("</table>", 1)[0]
    assert "s-text" in moved and "http.root_text" in moved and "+2" in moved
    assert "s-ok" not in moved and "s-root" not in moved

    forced = _grade(capsys, *args, "--force", "--regrade")
    assert not any("reused" in forced[n] for n in sources)
    assert "regrade: 0 of 3 submission(s) moved" in forced[""]
    assert json.loads((out / "regrade.json").read_text(encoding="utf-8")) == {"deltas": []}
    assert leftovers() == ([], [])

"""grader/cli/progress.py: the plain line per submission, the regrade lines, the live table."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from grader.classrun.batch import Graded
from grader.cli.command import progress_for
from grader.cli.live import LiveProgress
from grader.cli.progress import PlainProgress, delta_lines, graded_line
from grader.facts.results import CheckResult, Status, SubmissionReport, assemble
from grader.report.regrade import compare


def _report(name: str, text: Status, score_max: float = 3.0) -> SubmissionReport:
    checks = [
        CheckResult("run.starts", Status.PASSED, 2.0, 2.0, ""),
        CheckResult(
            "http.root_text", text, score_max if text is Status.PASSED else 0.0, score_max, ""
        ),
    ]
    return assemble(name, "tp6", checks)


def test_graded_line_names_failed_and_error_checks() -> None:
    report = _report("alice", Status.FAILED)
    line = graded_line(Graded(report, 1.25, Path("r/alice")))
    assert line.split() == ["alice", "2/5", "(1.2", "s)", "failed:", "http.root_text"]
    reused = graded_line(Graded(_report("bob", Status.PASSED), 0.0, Path("r/bob"), reused=True))
    assert "(0.0 s)  reused" in reused and "failed" not in reused


def test_delta_lines_show_who_moved_by_how_much_and_which_checks() -> None:
    deltas = [
        compare(_report("alice", Status.FAILED), _report("alice", Status.PASSED)),
        compare(_report("bob", Status.PASSED), _report("bob", Status.PASSED)),
        compare(None, _report("carol", Status.FAILED)),
        compare(_report("dan", Status.PASSED), _report("dan", Status.PASSED, 4.0)),
    ]
    assert delta_lines(deltas) == [
        "regrade: 3 of 4 submission(s) moved",
        "  alice: 2 -> 5/5  (+3)",
        "      http.root_text: failed -> passed (+3)",
        "  carol: new, 2/5",
        "  dan: 5 -> 6 (out of 5 -> 6)  (+1)",
        "      http.root_text: passed -> passed (+1)",
    ]
    assert delta_lines([]) == ["regrade: 0 of 0 submission(s) moved"]


def test_plain_progress_prints_one_line_per_graded(capsys: pytest.CaptureFixture[str]) -> None:
    with PlainProgress() as progress:
        progress.started(1, 2)
        progress.step(0, "alice", "build")
        progress.graded(Graded(_report("alice", Status.PASSED), 2.0, Path("r")))
    assert capsys.readouterr().out.splitlines() == [
        "alice                                5/5  (2.0 s)"
    ]


def test_progress_is_plain_when_not_on_a_terminal() -> None:
    assert type(progress_for(Console(file=io.StringIO()))) is PlainProgress
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(progress_for(terminal), LiveProgress)


def test_live_table_shows_done_total_and_each_worker() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    progress = LiveProgress(console)
    progress.started(3, 2)
    progress.step(0, "alice", "build")
    progress.step(1, "bob", "root_probe")
    progress.step(-1, "carol", "checks")
    with console.capture() as captured:
        console.print(progress.render())
    text = captured.get()
    assert "0/3 graded" in text
    assert [line.split() for line in text.splitlines()[1:]] == [
        ["checks", "carol", "checks"],
        ["worker", "1", "alice", "build"],
        ["worker", "2", "bob", "root_probe"],
    ]
    with progress:
        progress.graded(Graded(_report("carol", Status.PASSED), 1.0, Path("r")))
    assert "carol" in out.getvalue() and "1/3 graded" in str(progress.render().renderables[0])


def test_graded_line_lists_advice_apart_from_scored_failures() -> None:
    checks = [
        CheckResult("run.starts", Status.ERROR, 0.0, 2.0, ""),
        CheckResult("image.healthcheck", Status.ADVICE, 0.0, 0.0, ""),
        CheckResult("image.waste", Status.PASSED, 0.0, 0.0, ""),
    ]
    line = graded_line(Graded(assemble("eve", "tp6", checks), 1.0, Path("r/eve")))
    assert line.split()[4:] == ["error:", "run.starts", "advice:", "image.healthcheck"]

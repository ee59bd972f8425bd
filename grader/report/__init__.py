"""Exporters registry (name -> "module:function"); ``write_all`` writes a report atomically.

The reports of one submission (json, md, html, junit, gradescope, prairielearn) and of a class
(summary.csv, gradebook.csv, summary.md, the index.html dashboard, ``regrade`` deltas). May
import intake (integrity pairs), labs, engine, facts, i18n; grading and classrun import it.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from grader.facts.results import SubmissionReport
from grader.report.regrade import Delta

EXPORTERS: dict[str, str] = {
    "json": "grader.report.json_report:render",
    "markdown": "grader.report.markdown:render",
    "html": "grader.report.html:render",
    "junit": "grader.report.junit:render",
    "gradescope": "grader.report.gradescope:render",
    "prairielearn": "grader.report.prairielearn:render",
}
"""Per-submission formats: name -> "module:function(report) -> (filename, text)"."""

CLASS_EXPORTERS: dict[str, str] = {
    "csv": "grader.report.summary_csv:render",
    "gradebook": "grader.report.gradebook:render",
    "summary_md": "grader.report.gradebook:render_summary",
    "moodle": "grader.report.moodle_grades:render",
}
"""Class-level formats: name -> "module:function(reports) -> (filename, text)"; an exporter
with nothing to write (no Moodle student for moodle-grades.csv) returns an empty filename."""

DASHBOARD = "grader.report.dashboard:render"
"""The class dashboard: "module:function(reports, deltas) -> (filename, text)"."""


def _load(dotted: str) -> Callable[..., tuple[str, str]]:
    module, _, name = dotted.partition(":")
    function: Callable[..., tuple[str, str]] = getattr(importlib.import_module(module), name)
    return function


def warm_up() -> None:
    """Load every exporter and compile the HTML templates now (while a build runs), so that
    writing the first report does not pay for it."""
    for dotted in (*EXPORTERS.values(), *CLASS_EXPORTERS.values(), DASHBOARD):
        _load(dotted)
    templating = importlib.import_module("grader.report.templating")
    templating.compile_all()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # file names that are not UTF-8 (bytes kept by the OS as surrogates) come out escaped
        # as \udcXX, so every report stays valid UTF-8 (and report.json valid JSON)
        with os.fdopen(
            fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n"
        ) as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def submission_dir(outdir: Path, name: str) -> Path:
    """The report folder of one submission."""
    return outdir / name


def write_all(report: SubmissionReport, outdir: Path) -> Path:
    """Write every per-submission format and the raw logs; returns the submission's folder."""
    folder = submission_dir(outdir, report.submission)
    write_atomic(folder / "build.log", report.build_log)
    write_atomic(folder / "container.log", report.container_log)
    for dotted in EXPORTERS.values():
        filename, text = _load(dotted)(report)
        write_atomic(folder / filename, text)
    return folder


def write_class(
    reports: list[SubmissionReport], outdir: Path, deltas: Sequence[Delta] = ()
) -> None:
    """Write the class-level files (summary.csv..., and the dashboard index.html).

    ``deltas`` (a regrade's, from ``grader.report.regrade``) are shown on the dashboard when given.
    """
    for dotted in CLASS_EXPORTERS.values():
        filename, text = _load(dotted)(reports)
        if filename:
            write_atomic(outdir / filename, text)
    filename, text = _load(DASHBOARD)(reports, deltas)
    write_atomic(outdir / filename, text)


def write_grader_log(directory: Path, tracebacks: list[str]) -> None:
    """Keep grader tracebacks for the instructor, next to the report."""
    if tracebacks:
        (directory / "grader.log").write_text("\n\n".join(tracebacks), encoding="utf-8")


def format_exception(exc: BaseException) -> str:
    """A traceback as text, for grader.log."""
    return "".join(traceback.format_exception(exc))

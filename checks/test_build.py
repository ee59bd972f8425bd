"""Rubric check on the build."""

from __future__ import annotations

from grader.errors import BuildFailed, BuildTimedOut
from grader.facts import BuildResult
from grader.logcap import tail_lines
from grader.rubric import Grade, check


@check("build.succeeds")
def test_succeeds(build_outcome: BuildResult | BuildFailed | BuildTimedOut, grade: Grade) -> None:
    """``docker build`` succeeds."""
    if isinstance(build_outcome, BuildTimedOut):
        grade.fail(
            "timeout",
            seconds=f"{build_outcome.timeout_s:.0f}",
            evidence=tail_lines(build_outcome.log, 20),
        )
    if isinstance(build_outcome, BuildFailed):
        where = f"line {build_outcome.step_line}: " if build_outcome.step_line else ""
        grade.fail(
            step=f"{where}{build_outcome.step or '?'}",
            error=build_outcome.error.splitlines()[0] if build_outcome.error else "",
            evidence=tail_lines(build_outcome.log, 25),
        )

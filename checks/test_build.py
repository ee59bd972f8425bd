"""Rubric check on the build."""

from __future__ import annotations

from grader.errors import BuildFailed, BuildTimedOut
from grader.facts import BuildResult, DockerfileFacts
from grader.facts.logcap import tail_lines
from grader.grading.known_breakages import diagnose
from grader.grading.rubric import Grade, check


@check("build.succeeds")
def test_succeeds(
    build_outcome: BuildResult | BuildFailed | BuildTimedOut,
    dockerfile_or_none: DockerfileFacts | None,
    grade: Grade,
) -> None:
    """``docker build`` succeeds (a known breakage in the log is explained)."""
    if isinstance(build_outcome, BuildTimedOut):
        grade.fail(
            "timeout",
            seconds=f"{build_outcome.timeout_s:.0f}",
            evidence=tail_lines(build_outcome.log, 20),
        )
    if isinstance(build_outcome, BuildFailed):
        where = f"line {build_outcome.step_line}: " if build_outcome.step_line else ""
        if build_outcome.bound is not None:
            _stopped_by_a_bound(build_outcome, f"{where}{build_outcome.step or '?'}", grade)
        known = diagnose(build_outcome.log, "build", grade.lang, dockerfile_or_none)
        if known:
            grade.fail(
                "known",
                step=f"{where}{build_outcome.step or '?'}",
                line=known[0].line,
                cause=" ".join(d.cause for d in known),
                fix=" ".join(d.fix for d in known),
                evidence=tail_lines(build_outcome.log, 25),
            )
        grade.fail(
            step=f"{where}{build_outcome.step or '?'}",
            error=build_outcome.error.splitlines()[0] if build_outcome.error else "",
            evidence=tail_lines(build_outcome.log, 25),
        )


def _stopped_by_a_bound(failed: BuildFailed, step: str, grade: Grade) -> None:
    """Fail naming the grader's bound that stopped the build, and its value."""
    assert failed.bound is not None
    bound, values = failed.bound
    error = failed.error.splitlines()[0] if failed.error else ""
    evidence = tail_lines(failed.log, 25)
    if bound == "memory":
        grade.fail("memory", limit=values["limit"], step=step, error=error, evidence=evidence)
    if bound == "pids":
        grade.fail("pids", limit=values["limit"], step=step, error=error, evidence=evidence)
    if bound == "image_size":
        grade.fail("image_size", limit=values["limit"], size=values["size"])

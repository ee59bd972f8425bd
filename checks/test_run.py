"""Rubric check on starting the container."""

from __future__ import annotations

from grader.diagnose import diagnose
from grader.facts import DockerfileFacts, StartResult
from grader.logcap import key_line
from grader.rubric import Grade, check


@check("run.starts")
def test_starts(
    start: StartResult, dockerfile_or_none: DockerfileFacts | None, grade: Grade
) -> None:
    """The container is still running after start-up (a known breakage in its log is explained)."""
    if not start.running and start.oom_killed:
        grade.fail(
            "oom",
            seconds=f"{start.seconds:.1f}",
            memory=grade.limit("memory"),
            evidence=start.log_tail,
        )
    known = diagnose(start.log_tail, "run", grade.lang, dockerfile_or_none)
    if not start.running and known:
        grade.fail(
            "known",
            status=start.exit_status,
            seconds=f"{start.seconds:.1f}",
            line=known[0].line,
            cause=" ".join(d.cause for d in known),
            fix=" ".join(d.fix for d in known),
            evidence=start.log_tail,
        )
    if not start.running:
        grade.fail(
            status=start.exit_status,
            seconds=f"{start.seconds:.1f}",
            line=key_line(start.log_tail) or "-",
            evidence=start.log_tail,
        )

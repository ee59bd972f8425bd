"""Rubric check on starting the container."""

from __future__ import annotations

from grader.facts import StartResult
from grader.logcap import key_line
from grader.rubric import Grade, check


@check("run.starts")
def test_starts(start: StartResult, grade: Grade) -> None:
    """The container is still running after start-up."""
    if not start.running and start.oom_killed:
        grade.fail(
            "oom",
            seconds=f"{start.seconds:.1f}",
            memory=grade.limit("memory"),
            evidence=start.log_tail,
        )
    if not start.running:
        grade.fail(
            status=start.exit_status,
            seconds=f"{start.seconds:.1f}",
            line=key_line(start.log_tail) or "-",
            evidence=start.log_tail,
        )

"""Rubric checks on starting the container and stopping it."""

from __future__ import annotations

from grader.facts import DockerfileFacts, StartResult, StopFacts
from grader.facts.logcap import key_line
from grader.grading.known_breakages import diagnose
from grader.grading.rubric import Grade, check
from grader.labs.params import StopSignalParams


@check("run.starts")
def test_starts(
    start: StartResult, dockerfile_or_none: DockerfileFacts | None, grade: Grade
) -> None:
    """The container is still running after start-up (a known breakage in its log is explained)."""
    if start.refused:
        refusal = diagnose(start.log_tail, "run", grade.lang, dockerfile_or_none)
        if refusal:
            grade.fail(
                "refused_known",
                cause=" ".join(d.cause for d in refusal),
                fix=" ".join(d.fix for d in refusal),
                message=start.log_tail,
                evidence=start.log_tail,
            )
        grade.fail("refused", message=start.log_tail, evidence=start.log_tail)
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


@check("run.stop_signal")
def test_stop_signal(stop: StopFacts, grade: Grade) -> None:
    """docker stop ends the app promptly: SIGTERM reaches it (exec form, PID 1)."""
    params: StopSignalParams = grade.params
    seconds = f"{stop.seconds:.1f}"
    pid1 = stop.pid1 or "?"
    grace = f"{stop.grace_s:g}"
    evidence = f"PID 1: {pid1}\n{_how(stop)}: {seconds} s, exit {stop.exit_status}"
    sig = stop.signal_name
    if stop.outcome == "ignored":
        grade.fail("ignored", grace=grace, pid1=pid1, signal=sig, evidence=evidence)
    if stop.outcome == "dropped":
        grade.fail(
            "dropped", seconds=seconds, grace=grace, pid1=pid1, signal=sig, evidence=evidence
        )
    if stop.killed:
        grade.fail("killed", seconds=seconds, grace=grace, pid1=pid1, evidence=evidence)
    if 0 < params.max_stop_s < stop.seconds:
        grade.fail(
            "slow", seconds=seconds, max=f"{params.max_stop_s:g}", pid1=pid1, evidence=evidence
        )
    grade.note("stopped", seconds=seconds, pid1=pid1)


def _how(stop: StopFacts) -> str:
    """The evidence's line on how the stop went (technical, the same in every language)."""
    grace = f"{stop.grace_s:g}"
    sig = stop.signal_name
    if stop.outcome == "ignored":
        return (
            f"{sig} not caught by PID 1 (SigCgt): killed at once instead of docker stop -t {grace}"
        )
    if stop.outcome == "dropped":
        return (
            f"{sig} sent; PID 1 reset it to the default and stayed (SigCgt): "
            f"killed instead of waiting the {grace} s of docker stop -t {grace}"
        )
    if stop.outcome in ("exited", "grace"):
        return f"{sig} sent, PID 1 watched for {grace} s at most (docker stop -t {grace})"
    return f"docker stop -t {grace}"

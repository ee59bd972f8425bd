"""Turn a stage's failure, an engine fault or a grader bug into a check's result and feedback,
and a submission the rubric cannot run on into a whole report (every check error or failed)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from grader.errors import (
    BuildFailed,
    BuildTimedOut,
    ClassicBuilderCannot,
    ContainerExited,
    ContextRejected,
    EngineError,
    NetworkUnavailable,
    NeverReady,
    NoDockerfile,
    NotDeclared,
    ProbeFailed,
    PullFailed,
    RegistryUnreachable,
    SubmissionRejected,
    SubmissionTimedOut,
    ToolError,
)
from grader.facts import Socket
from grader.facts.logcap import key_line, tail_lines
from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.i18n import FIELDS, t

if TYPE_CHECKING:
    from grader.facts import Submission
    from grader.grading.settings import Options
    from grader.labs.spec import LabSpec


def feedback_for(key: str, lang: str, evidence: str = "", **params: object) -> Feedback:
    """The four-part feedback of a ``not_run.*`` / ``error.*`` message."""
    parts = {f: t(f"{key}.{f}", lang, **params) for f in FIELDS}
    return Feedback(**parts, evidence=evidence)


_fb = feedback_for


def never_ready_feedback(exc: NeverReady, lang: str) -> Feedback:
    """Explain why the app never answered, from the sockets seen listening in the container."""
    port, seconds = exc.port, f"{exc.waited_s:.0f}"
    listening = exc.listening
    if listening is None:
        return _fb("not_run.never_ready_unknown", lang, exc.log_tail, port=port, seconds=seconds)
    if not listening:
        return _fb("not_run.never_ready_nothing", lang, exc.log_tail, port=port, seconds=seconds)
    loopback = [s for s in listening if s.is_loopback]
    outside = [s for s in listening if not s.is_loopback]
    reachable = [s for s in outside if s.port == port]
    if reachable:  # the right socket, but no HTTP answer: stuck, or not an HTTP server
        return _fb(
            "not_run.never_ready_no_http",
            lang,
            exc.log_tail,
            socket=reachable[0],
            port=port,
            seconds=seconds,
        )
    if loopback and not any(s.port == port for s in outside):
        on_port = [s for s in loopback if s.port == port] or loopback
        return _fb("not_run.never_ready_loopback", lang, exc.log_tail, socket=on_port[0], port=port)
    ports = ", ".join(sorted({str(s.port) for s in outside}))
    evidence = "\n".join(map(str, listening))
    return _fb("not_run.never_ready_other_port", lang, evidence, ports=ports, port=port)


def stage_feedback(exc: Exception, lang: str) -> tuple[Status, Feedback]:
    """The status and feedback of a check whose stage could not produce its evidence."""
    if isinstance(exc, NoDockerfile):
        return Status.FAILED, _fb("not_run.no_dockerfile", lang)
    if isinstance(exc, SubmissionRejected):
        return Status.FAILED, _fb("not_run.rejected", lang, reason=str(exc))
    if isinstance(exc, BuildFailed):
        return Status.FAILED, _fb("not_run.build_failed", lang, error=str(exc))
    if isinstance(exc, BuildTimedOut):
        return Status.FAILED, _fb("not_run.build_timeout", lang, seconds=f"{exc.timeout_s:.0f}")
    if isinstance(exc, ContainerExited):
        line = key_line(exc.log_tail) or "-"
        evidence = tail_lines(exc.log_tail, 15)
        return Status.FAILED, _fb(
            "not_run.container_exited", lang, evidence, status=exc.exit_status, line=line
        )
    if isinstance(exc, NeverReady):
        return Status.FAILED, never_ready_feedback(exc, lang)
    if isinstance(exc, SubmissionTimedOut):
        seconds = f"{exc.timeout_s:.0f}"
        return Status.FAILED, _fb("not_run.submission_timeout", lang, seconds=seconds)
    if isinstance(exc, NotDeclared):
        return Status.FAILED, _fb("not_run.not_declared", lang, reason=exc.reason)
    if isinstance(exc, PullFailed):
        return Status.FAILED, _fb("not_run.pull_failed", lang, image=exc.reference, error=exc.error)
    if isinstance(exc, RegistryUnreachable):
        return Status.ERROR, _fb("error.registry", lang, registry=exc.registry, detail=exc.detail)
    if isinstance(exc, NetworkUnavailable):
        return Status.ERROR, _fb("error.network", lang, detail=exc.detail)
    if isinstance(exc, ProbeFailed):
        return Status.FAILED, _fb("not_run.probe_failed", lang, url=exc.url, cause=exc.cause)
    if isinstance(exc, EngineError):
        return Status.ERROR, _fb("error.engine", lang, detail=str(exc))
    if isinstance(exc, ClassicBuilderCannot):
        what = list(exc.features)
        if exc.unused_stage is not None:
            stage, from_line = exc.unused_stage
            what.append(t("builder.unused_stage", lang, stage=stage, line=from_line))
        return Status.ERROR, _fb("error.classic_builder", lang, features=", ".join(what))
    if isinstance(exc, ToolError):
        return Status.ERROR, _fb("error.tool", lang, tool=exc.tool, detail=exc.detail)
    detail = f"{type(exc).__name__}: {exc}"
    return Status.ERROR, _fb("error.internal", lang, detail=detail)


BLOCKERS: tuple[tuple[type[Exception], str, tuple[str, ...]], ...] = (
    (NoDockerfile, "no_dockerfile", ("dockerfile.present",)),
    (ContextRejected, "rejected", ("build.succeeds",)),
    (SubmissionRejected, "rejected", ("dockerfile.present",)),
    (BuildFailed, "build_failed", ("build.succeeds",)),
    (BuildTimedOut, "build_timeout", ("build.succeeds",)),
    (ContainerExited, "container_exited", ("run.starts", "registry.runs")),
    (NeverReady, "never_ready", ("http.root_status", "registry.runs")),
    (ProbeFailed, "probe_failed", ("http.root_status", "http.not_found", "registry.runs")),
    (NotDeclared, "not_declared", ("registry.pushed",)),
    (PullFailed, "pull_failed", ("registry.runs",)),
    (SubmissionTimedOut, "submission_timeout", ("",)),
)
"""(stage failure, its ``not_run.<key>`` prefix, the checks whose own subject it is): the first
of them is the check that stops the others (their ``blocked_by``); for those checks the failure
is their own ``failed`` verdict."""


def owners_of(key: str, dockerfile_read: bool = False) -> tuple[str, ...]:
    """The checks a ``not_run.<key>`` failure belongs to (first: the blocking one), or ();
    ``dockerfile_read``: a rejection then came after the Dockerfile (its build context)."""
    apart = SubmissionRejected if dockerfile_read else ContextRejected
    found = [o for cls, prefix, o in BLOCKERS if key.startswith(prefix) and cls is not apart]
    return found[0] if found else ()


def stage_verdict(check_id: str, exc: Exception, lang: str) -> tuple[Status, Feedback, str]:
    """Status, feedback and ``blocked_by`` of ``check_id`` when a stage raised ``exc``: the
    blocking check's own failure is ``failed``; every other check is ``not_run``, blocked by
    it; the grader's or the engine's fault is ``error``."""
    status, fb = stage_feedback(exc, lang)
    owners = next((o for cls, _, o in BLOCKERS if isinstance(exc, cls)), ())
    if status is not Status.FAILED or not owners:
        return status, fb, ""
    if check_id in owners:  # its own failure: not "not run"
        return status, dataclasses.replace(fb, summary=own_summary(fb.summary, lang)), ""
    return Status.NOT_RUN, fb, owners[0]


def own_summary(summary: str, lang: str) -> str:
    """A ``not_run.*`` summary without its "Not run: " opening, for the check it is about."""
    prefix = t("statuses.not_run_prefix", lang)
    if not summary.startswith(prefix):
        return summary
    rest = summary.removeprefix(prefix)
    return rest[:1].upper() + rest[1:]


def error_cause(exc: BaseException) -> str:
    """Where an ``error`` verdict comes from (pure): ``registry`` (a registry outside this
    machine did not answer), ``machine`` (this machine's network), ``engine``, ``tool`` or
    ``internal`` (the grader's own)."""
    if isinstance(exc, RegistryUnreachable):
        return "registry"
    if isinstance(exc, NetworkUnavailable):
        return "machine"
    if isinstance(exc, EngineError):
        return "engine"
    if isinstance(exc, ToolError):
        return "tool"
    return "internal"


def result(
    check_id: str,
    status: Status,
    max_score: float,
    fb: Feedback | None,
    cause: str = "",
    blocked_by: str = "",
) -> CheckResult:
    """A check's result; only a pass earns the points (``cause`` kept for errors only,
    ``blocked_by`` for checks not run); advice not followed is ``advice``, never ``failed``."""
    if status is Status.FAILED and max_score == 0:
        status = Status.ADVICE
    score = max_score if status is Status.PASSED else 0.0
    text = fb.as_text() if fb else ""
    kept = cause if status is Status.ERROR else ""
    blocker = blocked_by if status is Status.NOT_RUN else ""
    return CheckResult(check_id, status, score, max_score, text, fb, kept, blocker)


def describe(sockets: tuple[Socket, ...] | None) -> str:
    """Sockets as text for reports: ``0.0.0.0:8000, 127.0.0.1:9000``."""
    if sockets is None:
        return "unknown"
    return ", ".join(map(str, sockets)) or "none"


def error_report(
    sub: Submission, lab: LabSpec, options: Options | None, exc: BaseException
) -> SubmissionReport:
    """A report whose every check is ``error``: the grader failed, not the student."""
    lang = (options.lang if options else None) or lab.lang
    key = "error.engine" if isinstance(exc, EngineError) else "error.internal"
    fb = Feedback(summary=t(f"{key}.summary", lang, detail=str(exc)), fix=t(f"{key}.fix", lang))
    checks = [
        CheckResult(c.id, Status.ERROR, 0.0, c.max_score, fb.as_text(), fb, error_cause(exc))
        for c in lab.checks
    ]
    return assemble(sub.name, lab.id, checks, lang=lang)


def rejected_report(name: str, lab: LabSpec | None, exc: SubmissionRejected) -> SubmissionReport:
    """A submission refused before grading (unsafe archive...): ``dockerfile.present`` (or the
    lab's first check) failed with why, every other check not run, blocked by it."""
    if lab is None:
        return assemble(name, "unknown", [], notes=(str(exc),))
    _, fb = stage_feedback(exc, lab.lang)
    ids = [c.id for c in lab.checks]
    first = "dockerfile.present" if "dockerfile.present" in ids else ids[0]
    checks = [
        result(c.id, Status.FAILED, c.max_score, fb)
        if c.id == first
        else result(c.id, Status.NOT_RUN, c.max_score, fb, blocked_by=first)
        for c in lab.checks
    ]
    return assemble(name, lab.id, checks, lang=lab.lang, notes=(str(exc),))

"""Results model: Status, Feedback, CheckResult, SubmissionReport; pure, frozen, JSON round-trip."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 2
"""Version of report.json: 2 added ``not_run`` (with ``blocked_by``) and ``advice``; reports
without a version (1) are converted on load by ``grader.grading.legacy.read_report``."""


class Status(StrEnum):
    """Outcome of one check: a scored check is passed, failed, not_run or error; an advice
    check is passed, advice (not followed), not_run or error, never failed."""

    PASSED = "passed"
    FAILED = "failed"
    """A scored check the student's work does not satisfy."""
    NOT_RUN = "not_run"
    """Not evaluated: an earlier check's outcome (``blocked_by``) left no evidence; 0 points."""
    ADVICE = "advice"
    """Advice (no points) the submission does not follow."""
    ERROR = "error"
    """The grader or the engine failed; not the student's fault."""


@dataclass(frozen=True)
class Feedback:
    """What a student reads about one check, already in their language."""

    summary: str
    """One sentence: what happened."""
    expected: str = ""
    """What the lab asks for."""
    found: str = ""
    """What the grader observed."""
    fix: str = ""
    """How to fix it."""
    evidence: str = ""
    """Raw evidence: Dockerfile line, build error, log tail (bounded)."""

    def as_text(self) -> str:
        """The feedback as plain text lines (the ``message`` of reports and pytest)."""
        lines = [self.summary]
        for label, value in (("expected", self.expected), ("found", self.found)):
            if value:
                lines.append(f"  {label}: {value}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one rubric check for one submission."""

    id: str
    """Check id, e.g. ``http.root_text``."""
    status: Status
    """Outcome."""
    score: float
    """Points earned."""
    max_score: float
    """Points available (0 for advice-only checks)."""
    message: str
    """Human-readable verdict (the feedback as text)."""
    feedback: Feedback | None = None
    """Structured feedback, when the check produced one."""
    cause: str = ""
    """Where an ``error`` came from: ``engine``, ``tool``, ``registry`` or ``internal``
    (empty for other statuses, and in reports written before it existed)."""
    blocked_by: str = ""
    """For ``not_run``: the id of the check whose outcome stopped this one (e.g.
    ``build.succeeds``); empty for other statuses."""

    @property
    def is_advice(self) -> bool:
        """True for an advice-only check: shown to the student, worth no points."""
        return self.max_score == 0

    @property
    def needs_work(self) -> bool:
        """True for a scored check that failed, or any check in error (the grader's fault);
        never for a check not run (its blocker is the one to fix) nor for advice."""
        return self.status is Status.ERROR or (self.status is Status.FAILED and not self.is_advice)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        data = asdict(self)
        data["status"] = self.status.value
        if not self.cause:
            del data["cause"]  # only errors have one
        if not self.blocked_by:
            del data["blocked_by"]  # only checks not run have one
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        """Inverse of :meth:`to_dict`."""
        fb = data.get("feedback")
        return cls(
            id=data["id"],
            status=Status(data["status"]),
            score=float(data["score"]),
            max_score=float(data["max_score"]),
            message=data["message"],
            feedback=Feedback(**fb) if fb else None,
            cause=str(data.get("cause", "")),
            blocked_by=str(data.get("blocked_by", "")),
        )


@dataclass(frozen=True)
class SubmissionReport:
    """Everything known about one graded submission."""

    submission: str
    """Submission name."""
    lab: str
    """Lab id."""
    score: float
    """Sum of check scores."""
    max_score: float
    """Sum of check maxima."""
    checks: tuple[CheckResult, ...]
    """One result per check of the lab, in rubric order."""
    lang: str = "en"
    """Language of the messages."""
    grader_version: str = ""
    """Version of the grader that produced it."""
    notes: tuple[str, ...] = ()
    """Remarks about the submission as a whole (e.g. Dockerfile found under another name)."""
    facts: dict[str, Any] = field(default_factory=dict)
    """Image and run facts for display (size, user, ports, entrypoint...)."""
    build_log: str = ""
    """Build output (bounded)."""
    container_log: str = ""
    """Container output (bounded)."""
    reuse_key: str = ""
    """What the report was computed from (files, lab file, grader version, options): a later
    run with the same key reuses the report instead of grading again
    (``grader/classrun/reuse.py``)."""
    origin: dict[str, Any] = field(default_factory=dict)
    """Where the work came from (``grader.intake``): Moodle id, git URL, graded commit and
    folder..."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the schema of report.json)."""
        data = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        data["checks"] = [c.to_dict() for c in self.checks]
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionReport:
        """Inverse of :meth:`to_dict`, as written today; a report.json that may be older is read
        by ``grader.grading.legacy.read_report``, which converts it first."""
        return cls(
            submission=data["submission"],
            lab=data["lab"],
            score=float(data["score"]),
            max_score=float(data["max_score"]),
            checks=tuple(CheckResult.from_dict(c) for c in data["checks"]),
            lang=data.get("lang", "en"),
            grader_version=data.get("grader_version", ""),
            notes=tuple(data.get("notes", ())),
            facts=dict(data.get("facts", {})),
            build_log=data.get("build_log", ""),
            container_log=data.get("container_log", ""),
            reuse_key=data.get("reuse_key", ""),
            origin=dict(data.get("origin", {})),
        )

    def status_of(self, check_id: str) -> Status | None:
        """Status of one check, or None when the lab has no such check."""
        return next((c.status for c in self.checks if c.id == check_id), None)


def assemble(
    submission: str,
    lab: str,
    checks: list[CheckResult],
    **extra: Any,
) -> SubmissionReport:
    """Build the report; the only place where scores are summed."""
    return SubmissionReport(
        submission=submission,
        lab=lab,
        score=round(sum(c.score for c in checks), 2),
        max_score=round(sum(c.max_score for c in checks), 2),
        checks=tuple(checks),
        **extra,
    )

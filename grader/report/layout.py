"""The reading order of one report (pure): what to fix first, checks not run grouped under the
check that stopped them, errors, advice, then what passed; and where a submission stopped."""

from __future__ import annotations

from dataclasses import dataclass

from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport
from grader.i18n import t

STOPS = ("no_dockerfile", "build", "start", "http", "all_passed")
"""Where a submission can stop, in the order of the flow (the dashboard's chart)."""
CAUSES = (
    "dockerfile.present",
    "build.succeeds",
    "run.starts",
    "http.root_status",
    "registry.pushed",
    "registry.runs",
)
"""Blocking checks with a sentence of their own in ``statuses.cause``."""


@dataclass(frozen=True)
class Blocked:
    """Checks not run for the same reason: shown once, under the check that stopped them."""

    blocker: str
    """The check whose outcome stopped them (empty: the submission's time bound)."""
    checks: tuple[CheckResult, ...]
    """The checks not run, in rubric order."""
    feedback: Feedback | None
    """Why, as the first of them was told (the same for all of them)."""

    @property
    def points(self) -> float:
        """Points these checks are worth."""
        return sum(c.max_score for c in self.checks)

    def heading(self, lang: str) -> str:
        """``Not evaluated because the image does not build: 8 checks, 12 points``."""
        key = self.blocker.replace(".", "_") if self.blocker in CAUSES else "other"
        key = key if self.blocker else "time"
        cause = t(f"statuses.cause.{key}", lang, check=self.blocker)
        checks, points = len(self.checks), self.points
        return t(
            "statuses.blocked_heading",
            lang,
            cause=cause,
            checks=t(f"statuses.checks_{'one' if checks == 1 else 'many'}", lang, count=checks),
            points=t(
                f"statuses.points_{'one' if points == 1 else 'many'}", lang, count=f"{points:g}"
            ),
        )


@dataclass(frozen=True)
class Layout:
    """A report's checks in reading order."""

    fix_first: tuple[CheckResult, ...]
    """Scored checks failed: those that stopped other checks first, then the rest."""
    blocked: tuple[Blocked, ...]
    """Checks not run, grouped by what stopped them (in the order of their blockers)."""
    errors: tuple[CheckResult, ...]
    """Checks the grader or the engine could not grade (not the student's fault)."""
    advice: tuple[CheckResult, ...]
    """Advice not followed (no points)."""
    passed: tuple[CheckResult, ...]
    """Checks passed."""


def layout(report: SubmissionReport) -> Layout:
    """Order ``report``'s checks for reading (pure)."""
    checks = report.checks
    blockers = [c.blocked_by for c in checks if c.status is Status.NOT_RUN]
    failed = [c for c in checks if c.status is Status.FAILED]
    roots = [c for c in failed if c.id in blockers]
    groups: dict[tuple[str, str], list[CheckResult]] = {}
    for c in checks:
        if c.status is Status.NOT_RUN:
            summary = c.feedback.summary if c.feedback else c.message
            groups.setdefault((c.blocked_by, summary), []).append(c)
    order = [c.id for c in checks]
    keyed = sorted(groups.items(), key=lambda kv: _position(order, kv[0][0]))
    return Layout(
        fix_first=tuple(roots + [c for c in failed if c not in roots]),
        blocked=tuple(Blocked(b, tuple(cs), cs[0].feedback) for (b, _), cs in keyed),
        errors=tuple(c for c in checks if c.status is Status.ERROR),
        advice=tuple(c for c in checks if c.status is Status.ADVICE),
        passed=tuple(c for c in checks if c.status is Status.PASSED),
    )


def _position(order: list[str], check_id: str) -> int:
    return order.index(check_id) if check_id in order else len(order)


FLOW = (
    ("dockerfile.present", "no_dockerfile"),
    ("build.succeeds", "build"),
    ("run.starts", "start"),
    ("http.root_status", "http"),
)
"""(check, where a submission stops when it fails or did not run), in the order of the flow."""


def stopped_at(report: SubmissionReport) -> str | None:
    """Where a submission stopped (one of ``STOPS``): the first step of the flow whose check
    failed, did not run or stopped others; None when that check is in error (not known)."""
    status = {c.id: c.status for c in report.checks}
    blocked = {c.blocked_by for c in report.checks if c.status is Status.NOT_RUN}
    for check_id, stop in FLOW:
        if status.get(check_id) is Status.ERROR:
            return None
        if status.get(check_id) in (Status.FAILED, Status.NOT_RUN) or check_id in blocked:
            return stop
    return "all_passed"

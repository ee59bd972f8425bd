"""Regrade deltas: who moved between two gradings of a class, by how much, and which checks.

Pure: compares a previous ``SubmissionReport`` with a new one. The batch computes the deltas,
the command line prints them and the class dashboard shows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from grader.facts.results import SubmissionReport


@dataclass(frozen=True)
class CheckChange:
    """One check whose status or score changed between two gradings."""

    id: str
    """Check id, e.g. ``http.root_text``."""
    before: str
    """Status before (``passed``, ``failed``, ``not_run``, ``advice``, ``error``), or ``absent``."""
    after: str
    """Status after, or ``absent`` when the check is no longer in the lab."""
    points: float
    """Score after minus score before, for this check."""


@dataclass(frozen=True)
class Delta:
    """How one submission moved between the previous grading and this one."""

    submission: str
    """Submission name."""
    before: float | None
    """Previous score; None for a submission graded for the first time."""
    after: float
    """New score."""
    max_before: float | None
    """Previous maximum score (a lab change can move it); None when new."""
    max_after: float
    """New maximum score."""
    changes: tuple[CheckChange, ...]
    """Checks whose status or score changed, in the lab's order."""

    @property
    def points(self) -> float:
        """Score after minus score before (0 for a new submission)."""
        return 0.0 if self.before is None else self.after - self.before

    @property
    def moved(self) -> bool:
        """True when anything changed: score, maximum or a check's status."""
        return (
            self.before is None
            or self.points != 0
            or self.max_before != self.max_after
            or bool(self.changes)
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``regrade.json``."""
        return {
            "submission": self.submission,
            "before": self.before,
            "after": self.after,
            "max_before": self.max_before,
            "max_after": self.max_after,
            "points": self.points,
            "changes": [
                {"id": c.id, "before": c.before, "after": c.after, "points": c.points}
                for c in self.changes
            ],
        }


def compare(previous: SubmissionReport | None, current: SubmissionReport) -> Delta:
    """The delta of one submission (``previous`` None: graded for the first time)."""
    if previous is None:
        return Delta(current.submission, None, current.score, None, current.max_score, ())
    old = {c.id: c for c in previous.checks}
    new = {c.id: c for c in current.checks}
    order = [c.id for c in current.checks] + [i for i in old if i not in new]
    changes = []
    for check_id in order:
        a, b = old.get(check_id), new.get(check_id)
        before = a.status.value if a else "absent"
        after = b.status.value if b else "absent"
        points = (b.score if b else 0.0) - (a.score if a else 0.0)
        if before != after or points != 0:
            changes.append(CheckChange(check_id, before, after, points))
    return Delta(
        current.submission,
        previous.score,
        current.score,
        previous.max_score,
        current.max_score,
        tuple(changes),
    )


def compare_class(
    previous: Mapping[str, SubmissionReport], current: Iterable[SubmissionReport]
) -> list[Delta]:
    """Deltas of every submission graded now, against the previous reports by name."""
    return [compare(previous.get(r.submission), r) for r in current]

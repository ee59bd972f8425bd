"""Pure arithmetic of the benchmark: medians, ratios, the targets and their verdicts."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal


def median(values: Sequence[float]) -> float | None:
    """The median of ``values``, or None when nothing was measured."""
    return statistics.median(values) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def difference(a: float | None, b: float | None) -> float | None:
    """``a - b``, or None when either is missing."""
    return None if a is None or b is None else a - b


def total(values: Sequence[float | None]) -> float | None:
    """The sum of ``values``, or None when any is missing (a partial sum would mislead)."""
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


@dataclass(frozen=True)
class Target:
    """A goal the benchmark reports against (issue 6), never asserted in a test."""

    id: str
    """Stable key in the JSON file."""
    label: str
    """What is measured, for the table."""
    limit: float
    """The bound."""
    op: Literal["<=", "<"]
    """How the value compares with the bound to pass."""
    unit: str
    """Unit of the value and the bound (``x``, ``s``, ``ms``, ``MB``)."""


TARGETS: tuple[Target, ...] = (
    # issue 17: the floor and no more, on a quiet machine
    Target("cold_ratio", "grader / floor, one submission, cold", 1.05, "<=", "x"),
    Target("warm_added", "grader - floor, per submission, warm", 0.5, "<=", "s"),
    Target(
        "listen_to_probe", "app listening -> grader's first probe (upper bound)", 50.0, "<", "ms"
    ),  # fmt: skip
    Target(
        "class_floor_ratio",
        "class of N: grade -j N / raw floor xargs -P N (worst N)",
        1.10,
        "<=",
        "x",
    ),  # fmt: skip
    Target("parallel_ratio", "class of N: -j 2 time / -j 1 time", 0.65, "<=", "x"),
    Target("regrade_fraction", "unchanged class regraded / first run", 0.03, "<=", "x"),
    Target("peak_rss", "grader's peak memory (RSS) at -j 4", 200.0, "<", "MB"),
)
TARGET_BY_ID = {t.id: t for t in TARGETS}


@dataclass(frozen=True)
class Verdict:
    """One target's measured value and whether it holds."""

    target: Target
    """The target."""
    value: float | None
    """The measured value (the worst one when several were measured), None if not measured."""
    passed: bool | None
    """True / False, or None when not measured."""
    note: str = ""
    """Why not measured, or how it was measured when that matters."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON file."""
        t = self.target
        return {
            "id": t.id,
            "label": t.label,
            "limit": t.limit,
            "op": t.op,
            "unit": t.unit,
            "value": self.value,
            "passed": self.passed,
            "note": self.note,
        }


def holds(target: Target, value: float) -> bool:
    """True when ``value`` meets ``target``."""
    return value <= target.limit if target.op == "<=" else value < target.limit


def evaluate(target_id: str, values: Sequence[float | None], note: str = "") -> Verdict:
    """The verdict on the worst of ``values`` (every one must hold); missing values are skipped.

    With nothing measured the verdict is "not measured" (``passed`` None), never a pass.
    """
    target = TARGET_BY_ID[target_id]
    measured = [v for v in values if v is not None]
    if not measured:
        return Verdict(target, None, None, note or "not measured")
    worst = max(measured)  # every target is an upper bound
    return Verdict(target, worst, holds(target, worst), note)


def status_word(passed: bool | None) -> str:
    """``pass``, ``FAIL`` or ``n/a`` for the table."""
    return "n/a" if passed is None else "pass" if passed else "FAIL"

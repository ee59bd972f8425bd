"""Bar charts as plain geometry for inline SVG: the dashboard draws them with no JS library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LABEL_CHARS = 28
"""Longest label drawn beside a horizontal bar (the full one is in its tooltip)."""


@dataclass(frozen=True)
class Bar:
    """One bar: what it stands for and where it is drawn."""

    label: str
    """What the bar counts (a bucket, a check id, a submission)."""
    value: float
    """Its value (bar length)."""
    text: str
    """The value as shown next to the bar."""
    x: float
    y: float
    width: float
    height: float
    """The bar's rectangle, in SVG user units."""


@dataclass(frozen=True)
class Chart:
    """A bar chart: the SVG's size and its bars (one per bucket or item, zero-height included)."""

    id: str
    """Element id (``chart-scores``...)."""
    width: int
    height: int
    horizontal: bool
    """Labels on the left and bars to the right (else: columns with labels below)."""
    bars: tuple[Bar, ...]


def columns(
    chart_id: str, items: Sequence[tuple[str, float, str]], width: int = 420, height: int = 180
) -> Chart:
    """Vertical bars, one per item, with room for a label under each and a value above."""
    top, bottom = 16, 22
    step = width / max(len(items), 1)
    largest = max((v for _, v, _ in items), default=0) or 1
    bars = []
    for i, (label, value, text) in enumerate(items):
        h = (height - top - bottom) * value / largest
        bars.append(
            Bar(label, value, text, round(i * step + 2, 1), round(height - bottom - h, 1),
                round(step - 4, 1), round(h, 1))
        )  # fmt: skip
    return Chart(chart_id, width, height, False, tuple(bars))


def rows(
    chart_id: str, items: Sequence[tuple[str, float, str]], width: int = 420, row: int = 18
) -> Chart:
    """Horizontal bars, one per item, label on the left, value at the bar's end."""
    left, right = 190, 60
    scale = (width - left - right) / (max((v for _, v, _ in items), default=0) or 1)
    bars = [
        Bar(label, value, text, left, i * row + 2, round(scale * value, 1), row - 4)
        for i, (label, value, text) in enumerate(items)
    ]
    return Chart(chart_id, width, max(len(items), 1) * row + 4, True, tuple(bars))


def short(label: str, limit: int = LABEL_CHARS) -> str:
    """A label cut to ``limit`` characters (with an ellipsis)."""
    return label if len(label) <= limit else label[: limit - 1] + "…"

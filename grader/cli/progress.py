"""What a class run shows off a terminal: one plain line per graded submission, regrade lines.

On a terminal, the live display (``grader.cli.live``, ``rich``) builds on these lines:
submissions done/total, elapsed time and each worker's current step, with one line per graded
submission printed above it. When stdout is not a terminal (CI, tests, a pipe): only the plain
lines, one per graded submission, as they are graded. ``grader.cli.command.progress_for``
picks one of the two.
"""

from __future__ import annotations

import sys
from types import TracebackType

from grader.classrun.batch import Graded, Listener
from grader.facts.results import Status
from grader.report.regrade import Delta


def safe(text: str) -> str:
    """Text that any terminal can print (non-UTF-8 file names escaped)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def graded_line(graded: Graded) -> str:
    """One graded submission: name, score, seconds, reused, then the checks failed, in error,
    not run and the advice not followed, each listed apart (pure)."""
    r = graded.report
    tail = "  reused" if graded.reused else ""
    groups = (
        ("failed", [c for c in r.checks if c.status is Status.FAILED]),
        ("error", [c for c in r.checks if c.status is Status.ERROR]),
        ("not run", [c for c in r.checks if c.status is Status.NOT_RUN]),
        ("advice", [c for c in r.checks if c.status is Status.ADVICE]),
    )
    for label, checks in groups:
        tail += f"  {label}: {', '.join(c.id for c in checks)}" if checks else ""
    return f"{safe(r.submission):32} {r.score:5g}/{r.max_score:g}  ({graded.seconds:.1f} s){tail}"


def delta_lines(deltas: list[Delta]) -> list[str]:
    """Who moved since the previous grading, by how much, which checks changed (pure)."""
    moved = [d for d in deltas if d.moved]
    lines = [f"regrade: {len(moved)} of {len(deltas)} submission(s) moved"]
    for d in moved:
        name = safe(d.submission)
        if d.before is None:
            lines.append(f"  {name}: new, {d.after:g}/{d.max_after:g}")
            continue
        out_of = f"/{d.max_after:g}"
        if d.max_before != d.max_after:
            out_of = f" (out of {d.max_before:g} -> {d.max_after:g})"
        lines.append(f"  {name}: {d.before:g} -> {d.after:g}{out_of}  ({d.points:+g})")
        for c in d.changes:
            lines.append(f"      {c.id}: {c.before} -> {c.after} ({c.points:+g})")
    return lines


class PlainProgress(Listener):
    """One line per graded submission, printed as soon as it is graded."""

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def graded(self, graded: Graded) -> None:
        """Print its line."""
        sys.stdout.write(graded_line(graded) + "\n")
        sys.stdout.flush()

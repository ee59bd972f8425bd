"""Shards: a deterministic K-th of N parts of a class, balanced by the last known durations.

Every shard of a CI matrix computes the same split from the same inputs, whatever the machine:
the class's submission names (sorted) and, when ``--output`` already holds reports from an
earlier run, their durations (the build and start seconds they recorded). Submissions are
dealt, longest first, to the shard with the least work so far (ties: the lower shard); with
no durations known this is a round robin over the sorted names. Each shard writes
``shard.json`` (its place, and the whole class's order) for ``grade merge``.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError
from grader.facts.results import SubmissionReport
from grader.report import write_atomic

SHARD_FILE = "shard.json"
"""What a shard writes next to its reports: ``{"shard": K, "of": N, "class": [names]}``."""
DEFAULT_SECONDS = 10.0
"""The weight of a submission when no report of the class says how long one takes."""


@dataclass(frozen=True)
class Shard:
    """The K-th (1-based) of N parts."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``K/N`` as given to ``--shard``.

        Raises:
            UsageError: not two integers with 1 <= K <= N.
        """
        k, sep, n = text.partition("/")
        if not sep or not k.strip().isdigit() or not n.strip().isdigit():
            raise UsageError(f"--shard {text!r}: expected K/N, e.g. 1/4")
        shard = cls(int(k), int(n))
        if not 1 <= shard.index <= shard.count:
            raise UsageError(f"--shard {text!r}: K must be between 1 and N")
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def duration_of(report: SubmissionReport) -> float | None:
    """How long a report says its submission took to build and start, or None."""
    facts = report.facts
    seconds = [facts.get(k) for k in ("build_seconds", "start_seconds")]
    known = [float(s) for s in seconds if isinstance(s, int | float)]
    return sum(known) if known else None


def split(names: Sequence[str], count: int, durations: Mapping[str, float]) -> list[list[str]]:
    """``count`` parts of ``names`` (pure, deterministic): longest known first, each to the
    part with the least work so far; unknown durations weigh the median of the known ones."""
    known = [durations[n] for n in names if n in durations]
    default = statistics.median(known) if known else DEFAULT_SECONDS
    weight = {n: durations.get(n, default) for n in names}
    parts: list[list[str]] = [[] for _ in range(count)]
    load = [0.0] * count
    for name in sorted(set(names), key=lambda n: (-round(weight[n], 1), n)):
        part = min(range(count), key=lambda i: (round(load[i], 1), len(parts[i]), i))
        parts[part].append(name)
        load[part] += weight[name]
    return parts


def select(names: Sequence[str], shard: Shard, durations: Mapping[str, float]) -> set[str]:
    """The names shard ``shard`` grades."""
    return set(split(names, shard.count, durations)[shard.index - 1])


def write_shard_file(output: Path, shard: Shard, names: Sequence[str]) -> Path:
    """``shard.json``: this shard's place and the class's order (for ``grade merge``)."""
    path = output / SHARD_FILE
    data = {"shard": shard.index, "of": shard.count, "class": list(names)}
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path

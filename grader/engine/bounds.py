"""The bounds of a build, as the grader passes them down: ``BuildLimits`` and ``BuildBounds``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from grader.engine import cgroups
from grader.engine.cgroups import BuildGroup


@dataclass(frozen=True)
class BuildLimits:
    """What one build may use (``--build-memory``, ``--build-pids``, ``--build-cpus``)."""

    memory_bytes: int = cgroups.DEFAULT_LIMITS[0]
    """Memory, swap included, of every RUN step together."""
    pids: int = cgroups.DEFAULT_PIDS
    """Processes and threads at once."""
    cpus: float = cgroups.DEFAULT_CPUS
    """CPU time, in cores."""

    def as_tuple(self) -> cgroups.Limits:
        """The limits as ``grader.engine.cgroups`` takes them."""
        return (self.memory_bytes, self.pids, self.cpus)


@dataclass(frozen=True)
class BuildBounds:
    """The bounds one build runs under: ``api_params`` for the classic builder's
    ``POST /build``, or ``cgroup_parent`` for ``docker buildx build --cgroup-parent``."""

    limits: BuildLimits
    cgroup_parent: str | None
    """The cgroup (as Docker's cgroupfs driver names it) holding every RUN of the build, with
    the limits written in it; None: none could be made (``missing`` says what is lost)."""
    missing: tuple[str, ...] = ()
    """Bounds not enforced on this engine: ``pids`` (no cgroup), ``swap`` (not counted)."""

    def api_params(self) -> dict[str, str]:
        """Query parameters of ``POST /build`` (pure)."""
        return cgroups.api_params(self.limits.as_tuple(), self.cgroup_parent)


KILLED = re.compile(r"\bcode:? 137\b")
"""A RUN step killed by SIGKILL (either builder's words): the OOM killer when memory is bounded."""
FORK_REFUSED = re.compile(
    r"Cannot fork|can't fork|fork: retry|fork: Resource temporarily unavailable"
    r"|BlockingIOError: \[Errno 11\]|spawn EAGAIN"
)
"""A shell's, Python's or Node's words for a fork the kernel refused: with the build's own
process bound, that bound. BuildKit removes a RUN container's group as soon as its step
fails, sometimes before the watcher sampled the peak (``grader.engine.runbounds``)."""


def bounds_under(limits: BuildLimits, group: BuildGroup | None) -> BuildBounds:
    """The bounds of a build under ``group`` (None: only each RUN container's own limits)."""
    if group is None:
        return BuildBounds(limits, None, ("pids",))
    return BuildBounds(limits, group.parent, () if group.memsw else ("swap",))


class Watched(Protocol):
    """What tells which bound a build reached: its ``BuildGroup``, or its BuildKit RUN
    containers (``grader.engine.runbounds.RunBuild``)."""

    def at_limit(self) -> frozenset[str]: ...


def stopped_by(group: Watched | None, error: str | None, log: str = "") -> str | None:
    """The bound that stopped a failed build: the group's use at a limit (a memory limit
    reached only counts with a step killed), a fork refused in the failing step's ``log``
    under a process bound, or a kill when no group tells."""
    if not error:
        return None
    killed = KILLED.search(error) is not None
    if group is None:
        return "memory" if killed else None
    hit = group.at_limit()
    if killed and "memory" in hit:
        return "memory"
    if "pids" in hit or FORK_REFUSED.search(log[-4096:]):
        return "pids"
    return None

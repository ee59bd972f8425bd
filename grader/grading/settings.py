"""How to grade: ``Options`` from the command line, ``Settings`` once resolved against a lab."""

from __future__ import annotations

from dataclasses import dataclass

from grader.engine.bounds import BuildLimits
from grader.engine.cgroups import size_bytes
from grader.labs.spec import LabSpec
from grader.stages.run import Sandbox


@dataclass(frozen=True)
class Options:
    """How to grade; a field left None takes the lab's value (command-line flags override)."""

    lang: str | None = None
    """Feedback language (default: the lab's)."""
    build_timeout_s: float | None = None
    """Longest a build may take."""
    start_timeout_s: float | None = None
    """Longest the app may take to answer its first request."""
    http_timeout_s: float | None = None
    """Longest one HTTP request may take."""
    log_limit: int | None = None
    """Characters of each log kept."""
    submission_timeout_s: float | None = None
    """Longest one submission may take, all stages together."""
    memory: str | None = None
    """Container memory limit, e.g. ``512m``."""
    pids: int | None = None
    """Container pids limit."""
    cpus: float | None = None
    """Container CPU limit, in cores."""
    build_memory: str | None = None
    """Memory of each build, swap included, e.g. ``2g``."""
    build_pids: int | None = None
    """Most processes of each build at once."""
    build_cpus: float | None = None
    """CPU time of each build, in cores."""
    builder: str | None = None
    """``auto`` (BuildKit where the engine offers it), ``buildkit`` or ``classic``."""


@dataclass(frozen=True)
class Settings:
    """Options resolved against a lab: every value set."""

    lang: str
    build_timeout_s: float
    start_timeout_s: float
    http_timeout_s: float
    log_limit: int
    submission_timeout_s: float
    context_limit_bytes: int
    sandbox: Sandbox
    build_limits: BuildLimits
    image_limit_bytes: int
    builder: str = "auto"

    @classmethod
    def resolve(cls, options: Options, lab: LabSpec) -> Settings:
        """Flags first, then the lab file's values."""
        limits = lab.limits
        return cls(
            lang=options.lang or lab.lang,
            build_timeout_s=options.build_timeout_s or limits.build_timeout_s,
            start_timeout_s=options.start_timeout_s or limits.start_timeout_s,
            http_timeout_s=options.http_timeout_s or limits.http_timeout_s,
            log_limit=options.log_limit or limits.log_limit_bytes,
            submission_timeout_s=options.submission_timeout_s or limits.submission_timeout_s,
            context_limit_bytes=limits.context_limit_bytes,
            sandbox=Sandbox(
                memory=options.memory or limits.memory,
                pids=options.pids or limits.pids,
                cpus=options.cpus or limits.cpus,
            ),
            build_limits=build_limits(options, limits.build_memory, limits.build_pids,
                                      limits.build_cpus),
            image_limit_bytes=limits.image_limit_bytes,
            builder=options.builder or lab.builder,
        )  # fmt: skip


def build_limits(options: Options, memory: str, pids: int, cpus: float) -> BuildLimits:
    """The bounds of each build: the flags', else the given (the lab's) values (pure)."""
    return BuildLimits(
        memory_bytes=size_bytes(options.build_memory or memory),
        pids=options.build_pids or pids,
        cpus=options.build_cpus or cpus,
    )

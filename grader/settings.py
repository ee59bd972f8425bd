"""How to grade: ``Options`` from the command line, ``Settings`` once resolved against a lab."""

from __future__ import annotations

from dataclasses import dataclass

from grader.lab import LabSpec
from grader.run import Sandbox


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
            builder=options.builder or lab.builder,
        )

"""Facts read from the Dockerfile and its build context, without Docker: parse, lint, context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction."""

    keyword: str
    """Upper-case instruction name, e.g. ``COPY``."""
    value: str
    """Arguments as written, continuation lines joined."""
    line: int
    """1-based line where the instruction starts."""
    stage: int
    """Index of the stage it belongs to (0-based); -1 before the first FROM."""
    exec_form: bool
    """True when the arguments are a JSON array (exec form)."""
    args: tuple[str, ...]
    """Exec-form arguments, or the shell-form words split on whitespace."""
    flags: tuple[str, ...] = ()
    """Leading ``--flag=value`` options, e.g. ``--from=build``."""


@dataclass(frozen=True)
class Stage:
    """One build stage, from its FROM to the next."""

    index: int
    """0-based stage index."""
    base: str
    """Image reference after FROM, as written."""
    name: str | None
    """Alias given with ``AS``, if any."""
    instructions: tuple[Instruction, ...]
    """The stage's instructions, FROM included."""


@dataclass(frozen=True)
class DockerfileFacts:
    """What static analysis of the Dockerfile found."""

    path: Path
    """The Dockerfile parsed."""
    instructions: tuple[Instruction, ...]
    """Every instruction in order, all stages."""
    stages: tuple[Stage, ...]
    """Build stages in order; the last one is the final image."""
    had_bom: bool = False
    """The file started with a UTF-8 byte-order mark (accepted, stripped)."""
    had_crlf: bool = False
    """The file used Windows line endings (accepted)."""

    @property
    def final_stage(self) -> Stage | None:
        """The stage that makes the final image."""
        return self.stages[-1] if self.stages else None

    def lineage(self, stage: Stage) -> tuple[Stage, ...]:
        """``stage``, then the earlier stages it is built FROM through their aliases (a
        ``FROM build`` chain), nearest first; a loop of aliases stops the walk."""
        chain = [stage]
        while True:
            base = chain[-1].base
            parent = next((s for s in self.stages if s.name and s.name == base), None)
            if parent is None or parent in chain:
                return tuple(chain)
            chain.append(parent)


@dataclass(frozen=True)
class LintFinding:
    """One hadolint finding."""

    rule: str
    """Rule id, e.g. ``DL3020`` (``DL1000`` is a parse error)."""
    level: str
    """``error``, ``warning``, ``info`` or ``style``."""
    line: int
    """1-based Dockerfile line."""
    message: str
    """hadolint's own text (English), first line."""

    @property
    def url(self) -> str:
        """The rule's wiki page."""
        return f"https://github.com/hadolint/hadolint/wiki/{self.rule}"


@dataclass(frozen=True)
class LintFacts:
    """What hadolint found in the Dockerfile."""

    findings: tuple[LintFinding, ...]
    """Every finding, in line order."""
    version: str = ""
    """hadolint's version."""


@dataclass(frozen=True)
class ContextEntry:
    """A file or folder of the build context with what it weighs (after ``.dockerignore``)."""

    path: str
    """Path relative to the context, ``/``-separated."""
    bytes: int
    """Bytes of regular files under it."""
    files: int
    """Number of files under it."""
    is_dir: bool
    """A folder (sizes are recursive)."""
    is_venv: bool = False
    """A folder holding a ``pyvenv.cfg``: a Python virtual environment."""


@dataclass(frozen=True)
class ContextFacts:
    """The build context Docker is sent: its size and what weighs in it."""

    total_bytes: int
    """Bytes of regular files sent."""
    files: int
    """Number of files sent."""
    has_dockerignore: bool
    """A ``.dockerignore`` is at the root of the context."""
    entries: tuple[ContextEntry, ...]
    """Every folder sent, and every file of 1 MB or more, largest first."""
    top: tuple[ContextEntry, ...] = ()
    """The context's top-level entries, largest first."""

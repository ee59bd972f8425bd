"""Builds sent ahead by the command line, adopted by ``Engine.build`` when it is asked for the
same one (``grader.engine.headstart``: the classic builder's; ``grader.engine.headgrpc``:
BuildKit's), and what every build gives back (``BuildOutcome``)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.engine import cgroups
from grader.engine.base import EngineBase, log
from grader.engine.bounds import BuildBounds, BuildLimits, stopped_by
from grader.engine.buildkit import Builder
from grader.engine.headgrpc import GrpcHead
from grader.engine.headstart import HeadStart
from grader.errors import BuildTimedOut, EngineError
from grader.facts.logcap import CappedText

MACHINE_FAULTS = ("no space left on device", "disk quota exceeded", "input/output error")
"""Build errors that come from the machine, not from the student's Dockerfile."""


@dataclass(frozen=True)
class BuildOutcome:
    """What the engine said about a build."""

    image_id: str | None
    """The built image, None when the build failed."""
    log: str
    """Build output (bounded)."""
    error: str | None
    """The builder's error message when it failed."""
    seconds: float
    """From sending the build (ahead of the pipeline, for a head start) to its end."""
    bounds: BuildBounds | None = None
    """What the build ran under."""
    stopped_by: str | None = None
    """The bound that stopped a failed build: ``memory`` or ``pids``."""
    builder: Builder = "classic"
    """The builder that ran it."""


class HeadStarts(EngineBase):
    """``Engine``'s adoption of a build the command line sent ahead."""

    _buildkit_api: bool | None = None
    """Whether this engine builds with BuildKit through its API (asked once)."""

    def expect(self, head: HeadStart | GrpcHead) -> None:
        """Adopt ``head`` (a build the command line sent ahead on this engine's socket) when
        ``build`` is asked for the same build; it is abandoned at ``close`` otherwise."""
        same = False
        if self.base_url.startswith("unix://"):
            with contextlib.suppress(OSError):  # a socket gone since: not the same engine
                same = os.path.samefile(self.base_url.removeprefix("unix://"), head.socket_path)
        if same:
            self._head = head
        else:
            self.discard(head)

    def discard(self, head: HeadStart | GrpcHead) -> None:
        """Cancel ``head`` unless it was adopted, and remove the image it made anyway."""
        image = head.abandon()
        if image is not None:
            log.info("removed %s, built ahead but never asked for", image[:19])
            self.remove_image(image)

    def _adopt(
        self, context: Path, dockerfile: str, labels: Mapping[str, str], limits: BuildLimits
    ) -> HeadStart | None:
        head = self._head
        if not isinstance(head, HeadStart):
            return None
        if not head.matches(context, dockerfile, labels, limits.as_tuple()):
            return None
        if (head.group is None) != (self._cgroup_refusal() is not None):
            return None  # bounded otherwise than this engine's builds are: abandoned at close
        if head.take():
            log.info("build of %s: adopted the one sent ahead", context.name)
            return head
        return None

    def _cgroup_refusal(self) -> str | None:
        """None when a build on this engine can run under a cgroup of ours, else why not."""
        if not self.is_local():
            return "the engine is not on this machine"
        return cgroups.engine_refusal(self.info())

    def _adopt_grpc(
        self, context: Path, dockerfile: str, labels: Mapping[str, str], limits: BuildLimits
    ) -> GrpcHead | None:
        """The BuildKit build sent ahead for this very one, once sent (None if declined)."""
        head = self._head
        if not isinstance(head, GrpcHead):
            return None
        if not head.matches(context, dockerfile, labels, limits.as_tuple()):
            return None
        head.decided.wait()
        if head.declined is not None:
            log.info("build of %s: none sent ahead (%s)", context.name, head.declined)
            return None
        if not self._buildkit_api or self._cgroup_refusal() is not None:
            return None  # built otherwise here: abandoned at close
        if head.take():
            log.info("build of %s: adopted the one sent ahead (BuildKit)", context.name)
            return head
        return None

    def _adopted(
        self,
        head: GrpcHead,
        limits: BuildLimits,
        timeout_s: float,
        text: CappedText,
        on_sent: Callable[[], None],
    ) -> BuildOutcome:
        """Wait for the build ``head`` sent, as ``_buildkit`` would have for its own."""
        on_sent()
        try:
            left = head.sent_at + timeout_s - time.monotonic()
            if not head.finished.wait(max(0.0, left)):
                head.cancel()
                head.finished.wait(10.0)
                text.add(head.text.text() if head.text else "")
                raise BuildTimedOut(timeout_s, text.text())
            text.add(head.text.text() if head.text else "")
            outcome, runs = head.outcome, head.runs
            if isinstance(outcome, BaseException):
                raise outcome  # as the engine's own build would have raised it
            if outcome is None or runs is None:
                raise EngineError("build: the build sent ahead gave nothing")
            image_id, error = outcome
            if error and any(s in error.lower() for s in MACHINE_FAULTS):
                raise EngineError(f"build: {error}")
            bounds = BuildBounds(limits, runs.parent, runs.missing)
            if bounds.missing:
                self.missing_bounds = tuple(dict.fromkeys((*self.missing_bounds, *bounds.missing)))
            stopped = stopped_by(runs, error, text.text())
            memory, pids = runs.peaks()
            log.info("build of %s: peak %s bytes, %s processes", head.context.name, memory, pids)
            seconds = time.monotonic() - head.sent_at
            return BuildOutcome(
                image_id, text.text(), error, seconds, bounds, stopped, builder="buildkit"
            )
        finally:
            head.release()

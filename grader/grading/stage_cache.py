"""``StageCache``: a submission's stages run at most once, their outcome cached, time-bounded."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from grader.engine import Engine
from grader.errors import SubmissionTimedOut
from grader.facts import Submission
from grader.grading.settings import Options, Settings
from grader.labels import LABEL_SUBMISSION
from grader.labs.spec import LabSpec

log = logging.getLogger(__name__)
T = TypeVar("T")


class StageCache:
    """The cache and clocks every stage of a ``Pipeline`` shares."""

    def __init__(
        self,
        submission: Submission,
        lab: LabSpec,
        engine: Callable[[], Engine],
        labels: Mapping[str, str],
        options: Options,
    ) -> None:
        self.submission = submission
        self.lab = lab
        self.options = Settings.resolve(options, lab)
        self.labels = {**labels, LABEL_SUBMISSION: submission.name}
        self._engine_factory = engine
        self._cache: dict[str, tuple[bool, Any]] = {}
        self._raised: dict[str, TracebackType | None] = {}
        """The traceback of each stage that raised, as it first raised."""
        self.container_log = ""
        self._container_id: str | None = None
        self._containers: list[str] = []
        self._addresses: list[str] = []
        """Addresses its containers were reached at inside their namespaces."""
        self._deadline: float | None = None
        self._extra_images: list[str] = []
        self._pulled: list[str] = []
        self._releasing: threading.Thread | None = None  # the isolation's release (close)
        self._wrapping: threading.Thread | None = None  # the stopped container's (stop)
        self.booting = threading.Event()  # the student's container started (or never will)
        self._locks: dict[str, threading.RLock] = {}
        """One lock per stage: two threads never compute a stage twice, and stages that do
        not depend on each other run at once (stages form a DAG: no deadlock)."""
        self._locks_lock = threading.Lock()
        self.on_stage: Callable[[str], None] = lambda name: None
        """Called with a stage's name when it starts (the class run's progress display)."""
        self.builder: str | None = None
        """The builder the build went to (``buildkit``/``classic``), once it was chosen."""
        self.on_build_sent: Callable[[], None] = lambda: None
        """Called when the engine has the build context and builds, and again when the build
        stage ends (however it ends): from then on, this submission mostly waits for Docker.
        Meant to set an event (calling it twice is harmless)."""

    def remaining_s(self) -> float:
        """Seconds left of the whole-submission bound (its clock starts at the first stage)."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.options.submission_timeout_s
        return self._deadline - time.monotonic()

    def _bounded(self, seconds: float) -> float:
        """A stage's own bound, cut to what is left of the submission's."""
        return max(1.0, min(seconds, self.remaining_s()))

    def _stage_lock(self, name: str) -> threading.RLock:
        with self._locks_lock:
            return self._locks.setdefault(name, threading.RLock())

    def _once(self, name: str, compute: Callable[[], T]) -> T:
        if name not in self._cache:
            with self._stage_lock(name):
                if name not in self._cache:
                    try:
                        if name != "engine" and self.remaining_s() <= 0:
                            raise SubmissionTimedOut(self.options.submission_timeout_s)
                        self.on_stage(name)
                        began = time.monotonic()
                        try:
                            self._cache[name] = (True, compute())
                        finally:  # grade -v: where a submission's time goes
                            took = time.monotonic() - began
                            log.info("%s: %s took %.2f s", self.submission.name, name, took)
                    except Exception as exc:  # ours or a bug: the stage never runs twice
                        self._raised[name] = exc.__traceback__
                        self._cache[name] = (False, exc)
        ok, value = self._cache[name]
        if not ok:
            # with the stage's own traceback each time: a re-raised exception object
            # otherwise keeps every frame it was raised through, check after check, and
            # pytest walks all of them to describe each failure
            raise value.with_traceback(self._raised.get(name))
        return value  # type: ignore[no-any-return]

    def done(self, name: str) -> bool:
        """True when stage ``name`` has run (successfully or not)."""
        return name in self._cache

    @property
    def engine(self) -> Engine:
        """The engine, connected on first use.

        Raises:
            EngineUnavailable: no engine answers.
        """
        return self._once("engine", self._engine_factory)

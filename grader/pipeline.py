"""``Pipeline``: one submission's stages, each run at most once, on demand, evidence cached.

Stages raise ``StageFailed`` subclasses (a student's outcome) or ``EngineError`` (ours); the
outcome, value or exception, is cached so every check that depends on a stage sees the same.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grader import build, image, run, runtime
from grader import probe as http
from grader.dockerfile import parse_dockerfile
from grader.engine import LABEL_SUBMISSION, Engine
from grader.errors import ContainerExited, GraderError, NeverReady, NoDockerfile
from grader.facts import (
    BuildResult,
    DockerfileFacts,
    ImageFacts,
    ProbeResult,
    RuntimeFacts,
    StartResult,
    Submission,
)
from grader.lab import LabSpec
from grader.submission import DEFAULT_NAME, FALLBACK_NAMES

log = logging.getLogger(__name__)
T = TypeVar("T")


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
    sandbox: run.Sandbox = field(default_factory=run.Sandbox)
    """Container resource bounds."""


@dataclass(frozen=True)
class Settings:
    """Options resolved against a lab: every value set."""

    lang: str
    build_timeout_s: float
    start_timeout_s: float
    http_timeout_s: float
    log_limit: int
    sandbox: run.Sandbox

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
            sandbox=options.sandbox,
        )


class Pipeline:
    """Grades one submission lazily: a check that needs only the Dockerfile never builds."""

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
        self.container_log = ""
        self._container_id: str | None = None

    def _once(self, name: str, compute: Callable[[], T]) -> T:
        if name not in self._cache:
            try:
                self._cache[name] = (True, compute())
            except Exception as exc:  # ours or a bug: either way the stage never runs twice
                self._cache[name] = (False, exc)
        ok, value = self._cache[name]
        if not ok:
            raise value
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

    @property
    def dockerfile(self) -> DockerfileFacts:
        """Static facts of the Dockerfile.

        Raises:
            NoDockerfile, SubmissionRejected.
        """
        return self._once("dockerfile", self._parse)

    def _parse(self) -> DockerfileFacts:
        if self.submission.dockerfile is None:
            raise NoDockerfile(str(self.submission.root), (DEFAULT_NAME, *FALLBACK_NAMES))
        return parse_dockerfile(self.submission.dockerfile)

    @property
    def build(self) -> BuildResult:
        """The built image.

        Raises:
            BuildFailed, BuildTimedOut, NoDockerfile, EngineError.
        """
        return self._once("build", self._build)

    def _build(self) -> BuildResult:
        facts = self.dockerfile
        o = self.options
        return build.build_image(
            self.engine, self.submission, facts, self.labels, o.build_timeout_s, o.log_limit
        )

    @property
    def image(self) -> ImageFacts:
        """The final image's facts (needs the build)."""
        return self._once(
            "image", lambda: image.image_facts(self.engine, self.build.image_id, self.labels)
        )

    @property
    def start(self) -> StartResult:
        """Start the container and wait for the app (needs the build); never raises for the
        student's app misbehaving: that is in the result."""
        return self._once("start", self._start)

    def _start(self) -> StartResult:
        image_id = self.build.image_id
        port, o = self.lab.port, self.options
        container_id, host_port = run.start(self.engine, image_id, port, self.labels, o.sandbox)
        self._container_id = container_id
        if host_port is None:
            state = self.engine.inspect_container(container_id).get("State") or {}
            return StartResult(container_id, None, False, False, state.get("ExitCode"), 0, None, "")
        url = f"http://127.0.0.1:{host_port}{self.lab.path}"
        return run.wait_ready(
            self.engine, container_id, url, port, o.start_timeout_s, o.http_timeout_s
        )

    @property
    def container(self) -> StartResult:
        """The started container, ready to answer HTTP.

        Raises:
            ContainerExited, NeverReady (and whatever ``start`` raises).
        """
        started = self.start
        if started.ready:
            return started
        if not started.running:
            raise ContainerExited(started.exit_status or 0, started.log_tail)
        raise NeverReady(started.seconds, self.lab.port, started.listening, started.log_tail)

    @property
    def runtime(self) -> RuntimeFacts:
        """Facts from inside the started container (needs ``start``)."""
        return self._once("runtime", self._runtime)

    def _runtime(self) -> RuntimeFacts:
        started = self.start
        cid = started.container_id
        running = runtime.main_pid(self.engine, cid) is not None
        return RuntimeFacts(
            process_uid=runtime.process_uid(self.engine, cid) if running else None,
            listening=runtime.listening_sockets(self.engine, cid) if running else None,
            still_running=running,
            log_tail=started.log_tail,
        )

    def _get(self, path: str) -> ProbeResult:
        url = f"http://127.0.0.1:{self.container.host_port}{path}"
        return http.get(url, self.options.http_timeout_s)

    @property
    def root_probe(self) -> ProbeResult:
        """GET the lab's page (needs a ready container).

        Raises:
            ProbeFailed (and whatever ``container`` raises).
        """
        return self._once("root_probe", lambda: self._get(self.lab.path))

    @property
    def missing_probe(self) -> ProbeResult:
        """GET a path that cannot exist (needs a ready container)."""
        path = f"/grader-missing-{secrets.token_hex(4)}"
        return self._once("missing_probe", lambda: self._get(path))

    def close(self) -> None:
        """Keep the container's log, then remove the container; never raises."""
        container_id = self._container_id
        if container_id is None:
            return
        try:
            self.container_log = self.engine.logs(container_id, self.options.log_limit)
        except GraderError as exc:
            log.warning("no log for %s: %s", self.submission.name, exc)
        self.engine.remove_container(container_id)
        self._container_id = None

    def built_image_id(self) -> str | None:
        """The image built, when the build succeeded (removed at the end of the run)."""
        ok, value = self._cache.get("build", (False, None))
        return value.image_id if ok else None

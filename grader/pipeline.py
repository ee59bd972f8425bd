"""``Pipeline``: one submission's stages, each run at most once, on demand, evidence cached.

Stages raise ``StageFailed`` subclasses (a student's outcome) or ``EngineError`` (ours); the
outcome, value or exception, is cached so every check that depends on a stage sees the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from grader import build, diagnoses, image, isolation, lint, registry, run, runtime
from grader import probe as http
from grader.checkparams import SecretsParams
from grader.context import context_facts
from grader.dockerfile import parse_dockerfile
from grader.engine import Engine
from grader.errors import (
    BuildFailed,
    ContainerExited,
    GraderError,
    NeverReady,
    NoDockerfile,
    NotDeclared,
    StageFailed,
    StartRefused,
    SubmissionTimedOut,
)
from grader.facts import (
    BuildResult,
    CacheFacts,
    ContextFacts,
    Declaration,
    DevPackages,
    DockerfileFacts,
    ImageFacts,
    LintFacts,
    ProbeResult,
    RuntimeFacts,
    SizeFacts,
    StartResult,
    StopFacts,
    Submission,
    WasteFacts,
    outside_port,
)
from grader.i18n import t
from grader.lab import LabSpec
from grader.labels import LABEL_SUBMISSION
from grader.mistakes import mask_secret_values
from grader.registry import Reference
from grader.settings import Options, Settings
from grader.submission import (
    DEFAULT_NAME,
    FALLBACK_NAMES,
    read_declaration,
    read_dev_dependencies,
    safe_file,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
LINT_TIMEOUT_S = 30.0
"""Longest hadolint may take on one Dockerfile."""


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
        self._containers: list[str] = []
        self._deadline: float | None = None
        self._extra_images: list[str] = []
        self._pulled: list[str] = []
        self._released = False  # the isolation's network and rules, by close
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
        try:
            facts = self.dockerfile
            self._isolate_ahead()
            o = self.options
            timeout = self._bounded(o.build_timeout_s)
            self.builder = self.engine.builder_for(o.builder)
            result = build.build_image(
                self.engine,
                self.submission,
                facts,
                self.labels,
                timeout,
                o.log_limit,
                build.Bounds(o.build_limits, o.image_limit_bytes),
                o.context_limit_bytes,
                on_sent=self.on_build_sent,
                builder=self.builder,
            )
        except BuildFailed as exc:  # the log goes into reports: no secret value in it
            step = self.mask(exc.step) if exc.step else exc.step
            masked = self.mask(exc.log)
            raise BuildFailed(exc.error, masked, step, exc.step_line, exc.bound) from exc
        finally:
            self.on_build_sent()  # also when it never got that far (no Dockerfile...)
        return dataclasses.replace(result, log=self.mask(result.log))

    def mask(self, text: str) -> str:
        """Text (a build log, a Dockerfile line) with the values of secret-named ENV/ARG
        hidden (image.no_secrets)."""
        spec = self.lab.check("image.no_secrets")
        params = spec.params if spec else SecretsParams()
        return mask_secret_values(text, params.names, params.allowed)

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
        # EXPOSE straight from the engine: the image's other facts (its /etc/passwd read)
        # are gathered beside the start, not before it
        config = {} if self.lab.port else self.engine.inspect_image(image_id).get("Config")
        result = self._start_image(image_id, image.exposed_ports(config or {}))
        self._container_id = result.container_id
        return result

    def _start_image(self, image_id: str, exposed: frozenset[int]) -> StartResult:
        """The lab's port; or, when the lab gives none, EXPOSE's, and if the app is seen
        listening elsewhere, a second container publishing the port it really uses."""
        port = self.lab.port or min(exposed, default=0) or None
        result = self._run(image_id, port)
        if self.lab.port == 0 and not result.ready and result.running:
            actual = outside_port(result.listening)
            if actual is not None and actual != port:
                self.engine.remove_container(result.container_id)
                result = self._run(image_id, actual)
        return result

    @property
    def isolation(self) -> isolation.Isolation:
        """The submission's internal network and firewall rules (made before its first
        container; removed by ``close``).

        Raises:
            EngineError: the engine refused the network.
        """
        return self._once("isolation", lambda: isolation.isolate(self.engine, self.labels))

    def _isolate_ahead(self) -> None:
        """Make the network and its rules while the build runs (some 0.2 s of the engine's
        time, off the submission's critical path); ``start`` waits for them if need be."""

        def isolate() -> None:
            with contextlib.suppress(Exception):  # cached: the start that needs it says it
                _ = self.isolation

        threading.Thread(target=isolate, name="grader-isolate", daemon=True).start()

    def _run(self, image_id: str, port: int | None) -> StartResult:
        o = self.options
        network = self.isolation.network
        name = network.name if network else None
        try:
            container_id, host_port = run.start(
                self.engine, image_id, port, self.labels, o.sandbox, name
            )
        except StartRefused as refused:  # the image's fault: run.starts fails, with the reason
            self._containers.append(refused.container_id)
            return run.refused_result(refused, port)
        self._containers.append(container_id)
        address = "127.0.0.1"
        if name is not None:  # none when it stopped already: never the host's own 127.0.0.1
            address = self.engine.container_address(container_id, name) or ""
        url = f"http://{address}:{host_port}{self.lab.path}" if host_port and address else None
        result = run.wait_ready(
            self.engine,
            container_id,
            url,
            port or 0,
            self._bounded(o.start_timeout_s),
            o.http_timeout_s,
        )
        return dataclasses.replace(result, port=port, address=address)

    @property
    def container(self) -> StartResult:
        """The started container, ready to answer HTTP.

        Raises:
            ContainerExited, NeverReady (and whatever ``start`` raises).
        """
        return self._ready(self.start)

    def _ready(self, started: StartResult) -> StartResult:
        if started.ready:
            return started
        if not started.running:
            raise ContainerExited(started.exit_status or 0, started.log_tail)
        port = started.port or self.lab.port
        raise NeverReady(started.seconds, port, started.listening, started.log_tail)

    @property
    def runtime(self) -> RuntimeFacts:
        """Facts from inside the started container (needs ``start``)."""
        return self._once("runtime", self._runtime)

    def _runtime(self) -> RuntimeFacts:
        started = self.start
        cid = started.container_id
        main = runtime.main_process(self.engine, cid)
        return RuntimeFacts(
            process_uid=runtime.process_uid(self.engine, cid, main) if main else None,
            listening=runtime.listening_sockets(self.engine, cid, main) if main else None,
            still_running=main is not None,
            log_tail=started.log_tail,
        )

    @property
    def dev_packages(self) -> DevPackages:
        """Development dependencies installed in the final image (needs ``start``)."""
        return self._once("dev_packages", self._dev_packages)

    def _dev_packages(self) -> DevPackages:
        spec = self.lab.check("image.no_dev_dependencies")
        manifest = spec.params.manifest if spec else "package.json"
        declared = read_dev_dependencies(self.submission.root, manifest)
        started = self.start
        running = runtime.main_pid(self.engine, started.container_id) is not None
        workdir = self.image.workdir
        return runtime.dev_packages(self.engine, started.container_id, workdir, declared, running)

    @property
    def sizes(self) -> SizeFacts:
        """The final image's size against its single-stage equivalent (needs the build)."""
        return self._once("sizes", self._sizes)

    def _sizes(self) -> SizeFacts:
        final = self.image.size
        own = safe_file(self.submission.root, build.SINGLE_NAME)
        if own is None and len(self.dockerfile.stages) > 1:
            # the build stage alone is already built: the main build made it on the way
            stage = build.stage_image_id(self.build.log)
            if stage is not None:
                size = self.engine.inspect_image(stage).get("Size")
                return SizeFacts(final, int(size or 0), "build stage")
        o = self.options
        try:
            built = build.build_single_stage(
                self.engine,
                self.submission,
                self.dockerfile,
                self.labels,
                self._bounded(o.build_timeout_s),
                o.log_limit,
                build.Bounds(o.build_limits, o.image_limit_bytes),
                builder=o.builder,
            )
        except StageFailed as exc:
            log.info("single-stage build of %s failed: %s", self.submission.name, exc)
            return SizeFacts(final, None, "failed")
        if built is None:
            return SizeFacts(final, None, "none")
        result, source = built
        self._extra_images.append(result.image_id)
        size = self.engine.inspect_image(result.image_id).get("Size")
        return SizeFacts(final, int(size or 0), source)

    @property
    def declaration(self) -> Declaration:
        """The image the student says they pushed.

        Raises:
            NotDeclared.
        """
        return self._once("declaration", lambda: read_declaration(self.submission.root))

    @property
    def reference(self) -> Reference:
        """The declared image reference, parsed."""
        return self._once("reference", self._reference)

    def _reference(self) -> Reference:
        image = self.declaration.image
        try:
            return registry.parse_reference(image)
        except ValueError as exc:
            raise NotDeclared(f"submission.toml: {exc}") from exc

    @property
    def registry_status(self) -> int:
        """HTTP status of the declared image's manifest in its registry.

        Raises:
            NotDeclared, RegistryUnreachable.
        """
        return self._once(
            "registry_status",
            lambda: registry.manifest_status(self.reference, self.options.http_timeout_s),
        )

    @property
    def registry_probe(self) -> ProbeResult:
        """GET the lab's page from a container of the pulled image.

        Raises:
            NotDeclared, PullFailed, ContainerExited, NeverReady, ProbeFailed, EngineError.
        """
        return self._once("registry_probe", self._registry_probe)

    def _registry_probe(self) -> ProbeResult:
        # ask the registry first: unreachable is an `error` here too, not the student's fault
        _ = self.registry_status
        name = self.reference.pull_name
        present = self.engine.image_present(name)
        image_id = self.engine.pull(name, registry.pull_auth(self.reference.registry))
        if not present:
            self._pulled.append(image_id)
        attrs = self.engine.inspect_image(image_id)
        started = self._start_image(image_id, image.exposed_ports(attrs.get("Config") or {}))
        ready = self._ready(started)
        url = f"http://{ready.address}:{ready.host_port}{self.lab.path}"
        return http.get(url, self.options.http_timeout_s)

    def _get(self, path: str) -> ProbeResult:
        ready = self.container
        url = f"http://{ready.address}:{ready.host_port}{path}"
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

    # -- static diagnoses (issue 7): lint and build context, no build needed -------------------

    @property
    def lint(self) -> LintFacts:
        """hadolint's findings on the Dockerfile.

        Raises:
            NoDockerfile, SubmissionRejected, ToolError (hadolint failed: not the student's).
        """
        return self._once(
            "lint", lambda: lint.run_hadolint(self.dockerfile.path, self._bounded(LINT_TIMEOUT_S))
        )

    @property
    def context(self) -> ContextFacts:
        """The build context Docker is sent (once the Dockerfile is known to be usable)."""
        return self._once("context", lambda: context_facts(self.submission, self.dockerfile))

    def close(self) -> None:
        """Keep the container's log, then remove the container; never raises."""
        if self._container_id is not None:
            try:
                self.container_log = self.engine.logs(self._container_id, self.options.log_limit)
            except GraderError as exc:
                log.warning("no log for %s: %s", self.submission.name, exc)
        for container_id in self._containers:
            self.engine.remove_container(container_id)
        for image_id in self._pulled:
            self.engine.remove_image(image_id)
        self._containers, self._pulled, self._container_id = [], [], None
        with self._stage_lock("isolation"):  # made ahead, maybe still being made
            ok, made = self._cache.get("isolation", (False, None))
        if ok and not self._released:
            self._released = True
            isolation.release(self.engine, made)

    def notes(self) -> tuple[str, ...]:
        """What the reports must say about this submission's grading: the build bounds its
        builds ran without, the network isolation it ran without."""
        notes = []
        if self.done("engine") and self.done("build"):
            with contextlib.suppress(GraderError):
                if missing := self.engine.missing_bounds:
                    notes.append(t("bounds.missing", self.options.lang, bounds=", ".join(missing)))
        ok, made = self._cache.get("isolation", (False, None))
        said = isolation.note(made, self.options.lang) if ok else None
        return (*notes, said) if said else tuple(notes)

    def built_image_ids(self) -> list[str]:
        """Images this pipeline built (removed at the end of the run)."""
        ok, value = self._cache.get("build", (False, None))
        return ([value.image_id] if ok else []) + self._extra_images

    # -- diagnoses on the real image and container (added; their work is in diagnoses.py) ----

    @property
    def layer_cache(self) -> CacheFacts:
        """What re-ran when the app code changed by one line (needs the build).

        Raises:
            BuildFailed (and whatever ``build`` raises), BuildTimedOut, EngineError.
        """
        return self._once("layer_cache", self._layer_cache)

    def _layer_cache(self) -> CacheFacts:
        _ = self.build  # the first build fills the cache the probe relies on
        timeout = self._bounded(self.options.build_timeout_s)
        facts, image_id = diagnoses.probe_layer_cache(self, timeout)
        if image_id is not None:
            self._extra_images.append(image_id)
        return facts

    @property
    def stop(self) -> StopFacts:
        """``docker stop`` timed on the started container, after the stages that need it.

        Raises:
            ContainerExited (and whatever ``start`` raises), EngineError.
        """
        return self._once("stop", lambda: diagnoses.timed_stop(self))

    @property
    def waste(self) -> WasteFacts:
        """Per-layer sizes and the bytes the student's layers waste (needs the build).

        Raises:
            BuildFailed (and whatever ``build`` raises), EngineError.
        """
        return self._once("waste", lambda: diagnoses.waste(self))

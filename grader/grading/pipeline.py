"""``Pipeline``: one submission's stages, each run at most once, on demand, evidence cached.

Stages raise ``StageFailed`` subclasses (a student's outcome) or ``EngineError`` (ours); the
outcome, value or exception, is cached so every check that depends on a stage sees the same.
"""

from __future__ import annotations

import contextlib
import logging

from grader.errors import GraderError, NotDeclared
from grader.facts import Declaration, ProbeResult
from grader.grading.run_stages import RunStages
from grader.i18n import t
from grader.intake.submission import read_declaration
from grader.stages import image, isolation, registry
from grader.stages import probe as http
from grader.stages.registry import Reference

log = logging.getLogger(__name__)


STAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "engine": (),
    "dockerfile": (),
    "lint": ("dockerfile",),
    "context": ("dockerfile",),
    "isolation": ("engine",),
    "build": ("engine", "dockerfile", "isolation"),
    "image": ("engine", "build"),
    "sizes": ("engine", "dockerfile", "build"),
    "layer_cache": ("engine", "dockerfile", "build"),
    "waste": ("engine", "dockerfile", "build"),
    "start": ("engine", "build", "isolation"),
    "container": ("start",),
    "runtime": ("engine", "start"),
    "dev_packages": ("engine", "start"),
    "root_probe": ("container",),
    "missing_probe": ("container",),
    "stop": ("engine", "start", "runtime", "dev_packages", "root_probe", "missing_probe"),
    "declaration": (),
    "reference": ("declaration",),
    "registry_status": ("reference",),
    "registry_probe": ("engine", "isolation", "reference", "registry_status"),
}
"""Each stage of ``Pipeline`` and the stages it reads (each computed once, then cached): the
stages a worker may compute ahead (``grader.classrun.workers``), and what each one waits for.
``stop`` reads the container's stages first, when the lab has a check reading them
(``diagnostics.PRE_STOP``). A unit test holds this table to what the stages' code reads."""


class Pipeline(RunStages):
    """Grades one submission lazily: a check that needs only the Dockerfile never builds."""

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

    def close(self) -> None:
        """Keep the container's log, then remove the container (both already under way once
        it stopped: ``RunStages.stop``); never raises. The network
        and firewall rules of its isolation are released in the background, once the
        container is gone (``wait_released``; the report need not wait for it)."""
        wrapping = self._wrapping
        removed = None
        if wrapping is not None:  # the log kept and the container removed after the stop
            wrapping.join()
            removed = self._container_id  # (not again: one engine call fewer)
        elif self._container_id is not None:
            self._keep_log(self._container_id, remove=False)
        for container_id in self._containers:
            if container_id != removed:
                self.engine.remove_container(container_id)
        for image_id in self._pulled:
            self.engine.remove_image(image_id)
        for address in self._addresses:
            http.forget(address)
        self._containers, self._pulled, self._container_id = [], [], None
        self._addresses = []
        with self._stage_lock("isolation"):  # made ahead, maybe still being made
            ok, made = self._cache.get("isolation", (False, None))
            held = ok and (made.network is not None or made.guard is not None)
            if held and self._releasing is None:  # once (the watchdog may close it too)
                name = self.submission.name
                self._releasing = isolation.release_soon(self.engine, made, name)

    def wait_released(self) -> None:
        """Wait for the release ``close`` started, if any (all of this process's releases:
        ``isolation.wait_released``)."""
        if self._releasing is not None:
            self._releasing.join()

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

"""The stages on the running container: start, readiness, runtime facts, probes, the stop."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
from collections.abc import Callable

from grader.errors import ContainerExited, GraderError, NeverReady, StartRefused
from grader.facts import (
    DevPackages,
    ProbeResult,
    RuntimeFacts,
    StartResult,
    StopFacts,
    outside_port,
)
from grader.grading import diagnostics
from grader.grading.build_stages import BuildStages
from grader.intake.submission import read_dev_dependencies
from grader.stages import image, isolation, run, runtime
from grader.stages import probe as http

log = logging.getLogger(__name__)


class RunStages(BuildStages):
    """The student's container: started once, probed, stopped."""

    @property
    def start(self) -> StartResult:
        """Start the container and wait for the app (needs the build); never raises for the
        student's app misbehaving: that is in the result."""
        return self._once("start", self._start)

    def _start(self) -> StartResult:
        try:
            return self._start_built()
        finally:
            self.booting.set()

    def _start_built(self) -> StartResult:
        image_id = self.build.image_id
        # EXPOSE straight from the engine: the image's other facts (its /etc/passwd read)
        # are gathered beside the start, not before it
        config = {} if self.lab.port else self.engine.inspect_image(image_id).get("Config")
        exposed = image.exposed_ports(config or {})
        result = self._start_image(image_id, exposed, self.booting.set)
        self._container_id = result.container_id
        return result

    def _start_image(
        self,
        image_id: str,
        exposed: frozenset[int],
        on_started: Callable[[], None] | None = None,
    ) -> StartResult:
        """The lab's port; or, when the lab gives none, EXPOSE's, and if the app is seen
        listening elsewhere, a second container publishing the port it really uses.
        ``on_started``: called once each container is started (before its app answers)."""
        port = self.lab.port or min(exposed, default=0) or None
        result = self._run(image_id, port, on_started)
        if self.lab.port == 0 and not result.ready and result.running:
            actual = outside_port(result.listening)
            if actual is not None and actual != port:
                self.engine.remove_container(result.container_id)
                result = self._run(image_id, actual, on_started)
        return result

    def _run(
        self, image_id: str, port: int | None, on_started: Callable[[], None] | None = None
    ) -> StartResult:
        o = self.options
        isolated = self.isolation
        name = isolated.network.name if isolated.network else None
        mode = isolation.NO_NETWORK if isolated.inside else name
        try:
            container_id, host_port = run.start(
                self.engine, image_id, port, self.labels, o.sandbox, mode
            )
        except StartRefused as refused:  # the image's fault: run.starts fails, with the reason
            self._containers.append(refused.container_id)
            return run.refused_result(refused, port)
        self._containers.append(container_id)
        address = "127.0.0.1"
        if isolated.inside:  # none when it stopped already: never the host's own 127.0.0.1
            address = isolation.reach(self.engine, container_id) or ""
            if address:
                self._addresses.append(address)
        elif name is not None:
            address = self.engine.container_address(container_id, name) or ""
        url = f"http://{address}:{host_port}{self.lab.path}" if host_port and address else None
        if on_started is not None:  # the stages that wait for no more (workers.AFTER_BOOT)
            on_started()
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
        # one inspect: whether it runs, and the image's WORKDIR it runs in (the grader never
        # sets another); not the image stage's other facts (its /etc/passwd read)
        attrs = self.engine.inspect_container(started.container_id)
        main = runtime.main_of(self.engine, started.container_id, attrs)
        workdir = image.workdir_of(attrs.get("Config") or {})
        return runtime.dev_packages(self.engine, started.container_id, workdir, declared, main)

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

    @property
    def stop(self) -> StopFacts:
        """``docker stop`` timed on the started container, after the stages that need it.

        Raises:
            ContainerExited (and whatever ``start`` raises), EngineError.
        """
        return self._once("stop", self._stop)

    def _stop(self) -> StopFacts:
        stopped = diagnostics.timed_stop(self)
        if self._container_id is not None:  # its log whole, nothing reads it any more
            self._wrapping = threading.Thread(
                target=self._keep_log, args=(self._container_id, True), name="grader-wrap-up"
            )
            self._wrapping.start()  # beside the stages still running (close joins it)
        return stopped

    def _keep_log(self, container_id: str, remove: bool) -> None:
        """Keep the container's log (its last state: after the stop), then maybe remove it."""
        try:
            self.container_log = self.engine.logs(container_id, self.options.log_limit)
        except GraderError as exc:
            log.warning("no log for %s: %s", self.submission.name, exc)
        if remove:
            self.engine.remove_container(container_id)

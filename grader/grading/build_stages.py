"""The stages on the built image: build, image facts, sizes, layer cache, waste, isolation."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading

from grader.dockerfile.mistakes import mask_secret_values
from grader.errors import BuildFailed, StageFailed
from grader.facts import BuildResult, CacheFacts, ImageFacts, SizeFacts, WasteFacts
from grader.grading import diagnostics
from grader.grading.static_stages import StaticStages
from grader.intake.submission import safe_file
from grader.labs.params import SecretsParams
from grader.stages import build, image, isolation

log = logging.getLogger(__name__)


class BuildStages(StaticStages):
    """The build and what reads the built image (no container)."""

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

    @property
    def sizes(self) -> SizeFacts:
        """The final image's size against its single-stage equivalent (needs the build)."""
        return self._once("sizes", self._sizes)

    def _sizes(self) -> SizeFacts:
        # the image's size as the image stage reads it, without waiting for its other facts,
        # and read after the build stage's build is sent: that build is the last stage to
        # end, the sooner it starts the better
        def final() -> int:
            return image.size_of(self.engine.inspect_image(self.build.image_id))

        own = safe_file(self.submission.root, build.SINGLE_NAME)
        if own is None and len(self.dockerfile.stages) > 1:
            # the build stage alone is already built: the main build made it on the way
            stage = build.stage_image_id(self.build.log)
            if stage is not None:
                size = self.engine.inspect_image(stage).get("Size")
                return SizeFacts(final(), int(size or 0), "build stage")
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
            return SizeFacts(final(), None, "failed")
        if built is None:
            return SizeFacts(final(), None, "none")
        result, source = built
        self._extra_images.append(result.image_id)
        size = self.engine.inspect_image(result.image_id).get("Size")
        return SizeFacts(final(), int(size or 0), source)

    def built_image_ids(self) -> list[str]:
        """Images this pipeline built (removed at the end of the run)."""
        ok, value = self._cache.get("build", (False, None))
        return ([value.image_id] if ok else []) + self._extra_images

    # -- diagnoses on the real image and container (their work is in diagnostics.py) ----

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
        facts, image_id = diagnostics.probe_layer_cache(self, timeout)
        if image_id is not None:
            self._extra_images.append(image_id)
        return facts

    @property
    def waste(self) -> WasteFacts:
        """Per-layer sizes and the bytes the student's layers waste (needs the build).

        Raises:
            BuildFailed (and whatever ``build`` raises), EngineError.
        """
        return self._once("waste", lambda: diagnostics.waste(self))

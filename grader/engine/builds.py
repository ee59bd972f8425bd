"""Building images: which builder, the classic builder's stream, a build sent ahead adopted."""

from __future__ import annotations

import contextlib
import stat
import time
from collections.abc import Callable, Generator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, cast

from grader.engine import cgroups
from grader.engine.adoption import MACHINE_FAULTS, BuildOutcome, HeadStarts
from grader.engine.base import log
from grader.engine.bounds import BuildBounds, BuildLimits, bounds_under, stopped_by
from grader.engine.buildapi import api_build, available
from grader.engine.buildgrpc import needs_session
from grader.engine.buildkit import Builder, buildx_build, has_buildx, offers_buildkit
from grader.engine.cgroups import BuildGroup
from grader.engine.faults import registry_named, registry_trouble
from grader.engine.headstart import HeadStart, Refused
from grader.engine.runbounds import bounded_runs
from grader.engine.sdk import READ_TIMEOUTS, TRANSIENT, docker, release, translated
from grader.errors import BuildTimedOut, EngineError, PullFailed, RegistryUnreachable, ToolError
from grader.facts.logcap import CappedText
from grader.labels import image_labels


class Builds(HeadStarts):
    """``Engine``'s builds and pulls."""

    def builder_for(self, requested: str) -> Builder:
        """The builder a build asking for ``requested`` (auto, buildkit or classic) gets:
        BuildKit wherever this engine builds with it by default, or the Docker CLI offers it
        (asked once per engine).

        Raises:
            ToolError: ``buildkit`` was asked for and there is none.
        """
        if requested == "classic":
            return "classic"
        if self._buildkit_api is None:
            self._buildkit_api = available(self.api)
            log.info("engine %s: BuildKit through the API: %s", self.base_url, self._buildkit_api)
        if self._buildkit_api or offers_buildkit(self.base_url):
            return "buildkit"
        if requested == "buildkit":
            detail = "this engine or the Docker CLI offers no BuildKit (buildx plugin missing?)"
            raise ToolError("docker buildx", detail)
        return "classic"

    def build_bounds(self, limits: BuildLimits) -> tuple[BuildGroup | None, BuildBounds]:
        """The bounds of one classic build: a cgroup of its own when this engine can take
        one (the caller removes it), else the per-RUN limits only, said once on stderr (and
        kept in ``missing_bounds``, for the reports' notes)."""
        why = self._cgroup_refusal()
        if why is None:
            try:
                group = BuildGroup(limits.as_tuple())
                return group, bounds_under(limits, group)
            except OSError as exc:
                why = f"no cgroup could be made ({exc})"
        bounds = bounds_under(limits, None)  # memory and CPU: each RUN container's own
        cgroups.warn_once(bounds.missing, why)
        return None, bounds

    def build(
        self,
        context: Path,
        dockerfile: str,
        labels: Mapping[str, str],
        timeout_s: float,
        log_limit: int,
        text: CappedText | None = None,
        on_sent: Callable[[], None] = lambda: None,
        *,
        limits: BuildLimits,
        builder: str = "auto",
        target: str | None = None,
    ) -> BuildOutcome:
        """Build ``context`` with ``builder`` (see ``builder_for``) under ``limits`` (the
        classic builder: a cgroup of its own, ``cgroupparent``, removed after; BuildKit: each
        RUN container bounded on its own, ``grader.engine.runbounds``), keeping a bounded log
        (in ``text`` when given: e.g. a log that times each line, for the layer-cache probe);
        ``on_sent`` is called once the engine has the context and the build runs. ``target``:
        the stage to stop at.

        Raises:
            BuildTimedOut: the build did not finish within ``timeout_s``.
            EngineError: the engine failed (not the Dockerfile).
            ToolError: BuildKit was asked for and there is none.
        """
        text = text if text is not None else CappedText(log_limit)
        started = time.monotonic()
        if self.builder_for(builder) == "buildkit":
            return self._buildkit(context, dockerfile, labels, timeout_s, text, on_sent,
                                  limits, target)  # fmt: skip
        head = None if target else self._adopt(context, dockerfile, labels, limits)
        if head is not None:
            started, group = head.sent_at, head.group
            bounds = bounds_under(limits, group)
        if head is None:
            with translated("build"):
                # fail before docker-py writes the context to a temporary file it would not
                # close if the request failed (the engine went away)
                self.api.ping()
            group, bounds = self.build_bounds(limits)
        if bounds.missing:
            self.missing_bounds = tuple(dict.fromkeys((*self.missing_bounds, *bounds.missing)))
        try:
            image_id, error = self._build(
                context,
                dockerfile,
                labels,
                (started, timeout_s),
                text,
                on_sent,
                head,
                bounds,
                target,
            )
            seconds = time.monotonic() - started
            stopped = stopped_by(group, error)
            return BuildOutcome(image_id, text.text(), error, seconds, bounds, stopped)
        except EngineError as exc:
            cause = exc.__cause__
            if isinstance(cause, (docker.errors.APIError, Refused)) and cause.is_client_error():
                # 4xx before any step ran: the builder refused the Dockerfile itself
                message = str(cause.explanation if isinstance(cause, docker.errors.APIError)
                              else cause.message) or str(cause)  # fmt: skip
                text.add(message + "\n")
                return BuildOutcome(None, text.text(), message, time.monotonic() - started)
            if isinstance(cause, (*READ_TIMEOUTS, TimeoutError)):  # silent for timeout_s
                raise BuildTimedOut(timeout_s, text.text()) from exc
            raise
        finally:
            if group is not None:
                memory, pids = group.peaks()
                log.info("build of %s: peak %s bytes, %s processes", context.name, memory, pids)
                group.remove()

    def _buildkit(
        self,
        context: Path,
        dockerfile: str,
        labels: Mapping[str, str],
        timeout_s: float,
        text: CappedText,
        on_sent: Callable[[], None],
        limits: BuildLimits,
        target: str | None,
    ) -> BuildOutcome:
        """A BuildKit build (through the API, or ``docker buildx build`` for a Dockerfile that
        needs the CLI's session: ``buildapi.needs_session``) whose RUN containers are each
        bounded on their own under a cgroup parent that never changes (``runbounds``:
        BuildKit's cache stays shared); without one, BuildKit's RUN steps have no bound at all
        (it takes no memory or CPU limit), which the run and the reports say."""
        started = time.monotonic()
        if target is None and (head := self._adopt_grpc(context, dockerfile, labels, limits)):
            return self._adopted(head, limits, timeout_s, text, on_sent)
        with contextlib.ExitStack() as stack:
            runs, why = None, self._cgroup_refusal()
            if why is None:
                try:
                    runs = stack.enter_context(bounded_runs(limits.as_tuple()))
                except OSError as exc:
                    why = f"no cgroup could be made ({exc})"
            if runs is None:  # BuildKit takes no memory or CPU limit: a cgroup parent is all
                bounds = BuildBounds(limits, None, ("memory", "pids", "cpu"))
                cgroups.warn_once(bounds.missing, f"{why}; BuildKit is bounded only by a cgroup")
            else:
                bounds = BuildBounds(limits, runs.parent, runs.missing)
            if bounds.missing:
                self.missing_bounds = tuple(dict.fromkeys((*self.missing_bounds, *bounds.missing)))
            path = Path(dockerfile) if Path(dockerfile).is_absolute() else context / dockerfile
            cli = not self._buildkit_api or (needs_session(path) and has_buildx())
            run = buildx_build if cli else partial(api_build, self.api)
            log.info(
                "build of %s: BuildKit through %s", context.name, "the CLI" if cli else "the API"
            )
            image_id, error = run(
                self.base_url, context, dockerfile, labels, timeout_s, text, on_sent,
                target, bounds.cgroup_parent, runs.add_host if runs else None,
            )  # fmt: skip
            if error and any(s in error.lower() for s in MACHINE_FAULTS):
                raise EngineError(f"build: {error}")
            seconds = time.monotonic() - started
            stopped = stopped_by(runs, error, text.text())
            if runs is not None:
                memory, pids = runs.peaks()
                log.info("build of %s: peak %s bytes, %s processes", context.name, memory, pids)
            return BuildOutcome(
                image_id, text.text(), error, seconds, bounds, stopped, builder="buildkit"
            )

    def _build(
        self,
        context: Path,
        dockerfile: str,
        labels: Mapping[str, str],
        timing: tuple[float, float],
        text: CappedText,
        on_sent: Callable[[], None],
        head: HeadStart | None,
        bounds: BuildBounds,
        target: str | None = None,
    ) -> tuple[str | None, str | None]:
        """Stream the build (``timing``: when it was sent, and the timeout); the image id and
        the builder's error. The read timeout catches a silent hang, the deadline a chatty one.
        """
        image_id: str | None = None
        error: str | None = None
        started, timeout_s = timing
        read_timeout = max(1, int(timeout_s))
        deadline = started + timeout_s
        with translated("build"):
            stream: Generator[dict[str, Any], None, None]
            if head is not None:
                stream = head.stream(read_timeout)
            else:
                stream = self.api.build(
                    path=str(context),
                    dockerfile=dockerfile,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    labels=image_labels(labels),
                    decode=True,
                    timeout=read_timeout,
                    container_limits=cast(Any, bounds.api_params()),  # see sdk.BUILD_BOUND_KEYS
                    target=target,
                )
            on_sent()
            for chunk in stream:
                text.add(str(chunk.get("stream", "")))
                if "aux" in chunk and isinstance(chunk["aux"], dict):
                    image_id = chunk["aux"].get("ID", image_id)
                if "error" in chunk:
                    error = str(chunk["error"]).strip()
                    text.add(error + "\n")
                if time.monotonic() > deadline:
                    stream.close()
                    raise BuildTimedOut(timeout_s, text.text())
        if error and any(s in error.lower() for s in MACHINE_FAULTS):
            raise EngineError(f"build: {error}")  # the machine's fault, not the Dockerfile's
        return None if error else image_id, error

    def image_size(self, image_id: str) -> int:
        """Bytes of an image, its base layers included (``docker image inspect``'s Size)."""
        return int(self.inspect_image(image_id).get("Size") or 0)

    def image_present(self, name: str) -> bool:
        """True when the engine already has this image."""
        try:
            self.api.inspect_image(name)  # type: ignore[no-untyped-call]
        except docker.errors.ImageNotFound:
            return False
        except TRANSIENT as exc:
            release(exc)
            raise EngineError(f"inspect image: {exc}") from exc
        return True

    def pull(self, name: str, auth: Mapping[str, str] | None = None) -> str:
        """Pull an image (with ``auth``, a username and password, when given); returns its id.

        Raises:
            PullFailed: the registry refused it (absent, private...): the student's side.
            RegistryUnreachable: the registry or the way to it failed (rate limit, 5xx, DNS,
                TLS): the machine's side.
            EngineError: the engine failed.
        """
        repository, tag = docker.utils.parse_repository_tag(name)
        auth_config = dict(auth) if auth else None
        try:
            stream = self.api.pull(
                repository, tag=tag or "latest", stream=True, decode=True, auth_config=auth_config
            )
            for chunk in stream:
                if "error" in chunk:  # reported in the stream, not raised
                    raise _pull_failure(name, str(chunk["error"]))
        except docker.errors.APIError as exc:
            raise _pull_failure(name, str(exc.explanation or exc)) from exc
        except TRANSIENT as exc:
            release(exc)
            raise EngineError(f"pull {name}: {exc}") from exc
        return str(self.inspect_image(name)["Id"])

    @staticmethod
    def context_size(context: Path, dockerfile: str, ignore: list[str]) -> int:
        """Bytes of the build context Docker would be sent (``.dockerignore`` applied)."""
        try:
            files = docker.utils.build.exclude_paths(str(context), ignore, dockerfile=dockerfile)
        except (OSError, ValueError) as exc:
            raise EngineError(f"list the build context: {exc}") from exc
        total = 0
        for rel in files:
            info = (context / rel).lstat()
            total += info.st_size if stat.S_ISREG(info.st_mode) else 0
        return total

    @staticmethod
    def context_files(context: Path, dockerfile: str, ignore: list[str]) -> list[str]:
        """Relative paths of the files and folders Docker would send (``.dockerignore`` applied)."""
        try:
            return sorted(
                docker.utils.build.exclude_paths(str(context), ignore, dockerfile=dockerfile)
            )
        except (OSError, ValueError) as exc:
            raise EngineError(f"list the build context: {exc}") from exc


def _pull_failure(name: str, message: str) -> PullFailed | RegistryUnreachable:
    """The student's PullFailed, unless the registry or the network failed (ours)."""
    if registry_trouble(message):
        first = name.split("/", 1)[0]
        host = first if "/" in name and ("." in first or ":" in first) else "registry-1.docker.io"
        return RegistryUnreachable(registry_named(message, host), message)
    return PullFailed(name, message)

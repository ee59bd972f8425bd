"""Building images: which builder, the classic builder's stream, a build sent ahead adopted."""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.engine.base import EngineBase, log
from grader.engine.buildkit import Builder, buildx_build, offers_buildkit
from grader.engine.sdk import READ_TIMEOUTS, TRANSIENT, docker, release, translated
from grader.errors import BuildTimedOut, EngineError, PullFailed, ToolError
from grader.headstart import HeadStart, Refused
from grader.labels import image_labels
from grader.logcap import CappedText

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
    builder: Builder = "classic"
    """The builder that ran it."""


class Builds(EngineBase):
    """``Engine``'s builds and pulls."""

    def expect(self, head: HeadStart) -> None:
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

    def discard(self, head: HeadStart) -> None:
        """Cancel ``head`` unless it was adopted, and remove the image it made anyway."""
        image = head.abandon()
        if image is not None:
            log.info("removed %s, built ahead but never asked for", image[:19])
            self.remove_image(image)

    def builder_for(self, requested: str) -> Builder:
        """The builder a build asking for ``requested`` (auto, buildkit or classic) gets:
        BuildKit wherever this engine and the Docker CLI offer it (asked once per engine).

        Raises:
            ToolError: ``buildkit`` was asked for and there is none.
        """
        if requested == "classic":
            return "classic"
        if offers_buildkit(self.base_url):
            return "buildkit"
        if requested == "buildkit":
            detail = "this engine or the Docker CLI offers no BuildKit (buildx plugin missing?)"
            raise ToolError("docker buildx", detail)
        return "classic"

    def _adopt(self, context: Path, dockerfile: str, labels: Mapping[str, str]) -> HeadStart | None:
        head = self._head
        if head is not None and head.matches(context, dockerfile, labels) and head.take():
            log.info("build of %s: adopted the one sent ahead", context.name)
            return head
        return None

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
        builder: str = "auto",
        target: str | None = None,
        cgroup_parent: str | None = None,
    ) -> BuildOutcome:
        """Build ``context`` with ``builder`` (see ``builder_for``), keeping a bounded log (in
        ``text`` when given: e.g. a log that times each line, for the layer-cache probe);
        ``on_sent`` is called once the engine has the context and the build runs. ``target``:
        the stage to stop at; ``cgroup_parent``: the cgroup BuildKit runs RUN steps under (the
        classic builder, through docker-py, has no such option).

        Raises:
            BuildTimedOut: the build did not finish within ``timeout_s``.
            EngineError: the engine failed (not the Dockerfile).
            ToolError: BuildKit was asked for and there is none.
        """
        text = text if text is not None else CappedText(log_limit)
        started = time.monotonic()
        if self.builder_for(builder) == "buildkit":
            image_id, error = buildx_build(
                self.base_url, context, dockerfile, labels, timeout_s, text, on_sent,
                target, cgroup_parent,
            )  # fmt: skip
            if error and any(s in error.lower() for s in MACHINE_FAULTS):
                raise EngineError(f"build: {error}")
            return BuildOutcome(
                image_id, text.text(), error, time.monotonic() - started, "buildkit"
            )
        head = None if target else self._adopt(context, dockerfile, labels)
        if head is not None:
            started = head.sent_at
        if head is None:
            with translated("build"):
                # fail before docker-py writes the context to a temporary file it would not
                # close if the request failed (the engine went away)
                self.api.ping()
        try:
            image_id, error = self._build(
                context, dockerfile, labels, (started, timeout_s), text, on_sent, head, target
            )
            return BuildOutcome(image_id, text.text(), error, time.monotonic() - started)
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

    def _build(
        self,
        context: Path,
        dockerfile: str,
        labels: Mapping[str, str],
        timing: tuple[float, float],
        text: CappedText,
        on_sent: Callable[[], None],
        head: HeadStart | None,
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

    def pull(self, name: str) -> str:
        """Pull an image; returns its id.

        Raises:
            PullFailed: the registry refused it (absent, private...): the student's side.
            EngineError: the engine failed.
        """
        repository, tag = docker.utils.parse_repository_tag(name)
        try:
            for chunk in self.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
                if "error" in chunk:  # reported in the stream, not raised
                    raise PullFailed(name, str(chunk["error"]))
        except docker.errors.APIError as exc:
            raise PullFailed(name, str(exc.explanation or exc)) from exc
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

"""The head start through BuildKit: ``grade`` on one submission sends its BuildKit build first.

``grader.engine.headstart`` sends a classic build before the grader loads; on an engine that
builds with BuildKit (``/_ping``'s ``Builder-Version: 2``) the pipeline's build goes through
BuildKit's gRPC API instead (``grader.engine.buildgrpc``), and waited for the grader to load
(0.25-0.35 s here, on every single submission). This sends that very build with the standard
library, ``h2`` and ``inotify_simple`` alone: the context tar ``grader.engine.buildapi`` would
make (docker-py's ``.dockerignore`` rules, ``grader.engine.dockerignore``, PAX headers, whole
seconds), the same frontend attributes and labels, under the shared cgroup parent with this
build's RUN containers bounded as any other (``grader.engine.runbounds``). ``Engine.build``
adopts it (reads its answer) when the pipeline asks for the same build under the same bounds;
otherwise it is cancelled, and the image it may have made is removed.

Only where ``headstart.folder_for`` and ``headstart.begin``'s rules allow a head start, and
besides: BuildKit's RUN containers can be bounded here (cgroup v1), the Dockerfile mounts no
secret or ssh agent (those need the CLI's session), and the tar's first entry needs no PAX
header (the API route would gzip it).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from grader.engine import cgroups, dockerignore, headstart
from grader.engine.buildgrpc import GrpcBuild
from grader.engine.cgroups import Limits
from grader.engine.runbounds import RunBuild, bounded_runs
from grader.errors import EngineError
from grader.facts.logcap import CappedText
from grader.labels import LABEL_SUBMISSION, image_labels

SESSION_MOUNT = re.compile(rb"--mount=\S*\btype=(secret|ssh)\b", re.IGNORECASE)
"""A RUN mount BuildKit serves from the client's session (as ``buildapi.SESSION_MOUNT``)."""
EXTENDED = (b"x", b"g", b"L", b"K")
"""Tar entry types of a PAX or GNU long-name header (as ``buildapi.EXTENDED``)."""
PING_TIMEOUT_S = 5.0


def pax_archive(root: Path, paths: Sequence[str]) -> bytes:
    """The build context as ``buildapi`` writes it for a Dockerfile inside the context: a PAX
    tar of ``paths`` in that order, headers from ``lstat``, times in whole seconds."""
    buffer = io.BytesIO()
    with tarfile.open(mode="w", fileobj=buffer, format=tarfile.PAX_FORMAT) as tar:
        for rel in paths:
            info = tar.gettarinfo(str(root / rel), arcname=rel)
            if info is None:
                continue  # a socket or a device: docker-py leaves it out too
            info.mtime = int(info.mtime)
            if info.isfile():
                with (root / rel).open("rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def builds_with_buildkit(socket_path: str) -> bool:
    """True when the engine on ``socket_path`` builds with BuildKit by default, on Linux (what
    ``buildapi.available`` reads from ``/_ping``)."""
    import http.client

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(PING_TIMEOUT_S)
        sock.connect(socket_path)
        sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        response = http.client.HTTPResponse(sock)
        response.begin()
        headers = response.headers
        return bool(
            response.status == 200
            and headers.get("Builder-Version") == "2"
            and headers.get("Ostype") == "linux"
        )
    except (OSError, http.client.HTTPException):
        return False
    finally:
        sock.close()


class GrpcHeadStart:
    """A BuildKit build sent ahead, until ``Engine.build`` adopts it (``take``, ``finish``)."""

    def __init__(
        self,
        sent: GrpcBuild,
        socket_path: str,
        context: Path,
        labels: Mapping[str, str],
        bounded: tuple[Limits, RunBuild, contextlib.ExitStack],
    ) -> None:
        self.context = context
        self.dockerfile = headstart.DOCKERFILE
        self.labels = {k: v for k, v in labels.items() if k != LABEL_SUBMISSION}
        """The run's labels: ``batch.run_class`` uses them, so the images match."""
        self.submission = labels.get(LABEL_SUBMISSION)
        """The submission's name, as its build's label."""
        self.limits, self.runs, self._bounds = bounded
        """What the build's RUN containers may use, and the watcher bounding them (released
        by the adopter, or here)."""
        self.socket_path = socket_path
        self.sent_at = sent.sent_at
        self._sent = sent
        self._taken = False
        self._lock = threading.Lock()

    def matches(
        self,
        context: Path,
        dockerfile: str,
        labels: Mapping[str, str],
        limits: Limits,
        target: str | None = None,
    ) -> bool:
        """True when the pipeline asks for this very build, with the same bounds."""
        return (
            target is None
            and context.resolve() == self.context
            and dockerfile == self.dockerfile
            and image_labels(labels) == image_labels(self.labels)
            and labels.get(LABEL_SUBMISSION) == self.submission
            and limits == self.limits
        )

    def take(self) -> bool:
        """Claim the build for its adopter: True once, False after (or once abandoned)."""
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken

    @contextlib.contextmanager
    def bounds(self) -> Iterator[RunBuild]:
        """The build's bounded RUN containers, released when the adopter's block ends."""
        with self._bounds:
            yield self.runs

    def finish(
        self,
        timeout_s: float,
        text: CappedText,
        on_sent: Callable[[], None],
        register: Callable[[Callable[[], None] | None], None],
    ) -> tuple[str | None, str | None]:
        """Read the build to its end (``GrpcBuild.finish``): the image id and the builder's
        error, one None."""
        return self._sent.finish(timeout_s, text, on_sent, register)

    def as_build(
        self, register: Callable[[Callable[[], None] | None], None]
    ) -> Callable[..., tuple[str | None, str | None]]:
        """``finish`` called as ``buildapi.api_build`` is (``grader.engine.builds``)."""

        def build(
            base_url: str,
            context: Path,
            dockerfile: str,
            labels: Mapping[str, str],
            timeout_s: float,
            text: CappedText,
            on_sent: Callable[[], None],
            *rest: object,
        ) -> tuple[str | None, str | None]:
            return self.finish(timeout_s, text, on_sent, register)

        return build

    def abandon(self) -> str | None:
        """Cancel the build if nobody adopted it; the image it made anyway, to remove."""
        if not self.take():
            return None
        try:
            return self._sent.abandon()
        finally:
            self._bounds.close()


def begin(
    paths: Sequence[Path],
    output: Path,
    rebuild: bool,
    hosts: Sequence[str],
    labels: Mapping[str, str],
    limits: Limits = cgroups.DEFAULT_LIMITS,
    environ: Mapping[str, str] = os.environ,
) -> GrpcHeadStart | str:
    """Send the BuildKit build of the one submission in ``paths`` now, its RUN containers
    bounded by ``limits``, or say why not."""
    path = headstart.engine_socket(hosts, environ)
    if path is None:
        return "not a local unix socket, or several engines"
    if headstart.client_configured(environ):
        return "a Docker client configuration"
    folder = headstart.folder_for(paths, output, rebuild)
    if isinstance(folder, str):
        return folder
    why = cgroups.usable()
    if why is not None:
        return f"BuildKit's RUN containers cannot be bounded here ({why})"
    try:
        if SESSION_MOUNT.search((folder / headstart.DOCKERFILE).read_bytes()):
            return "a secret or ssh mount (the CLI's session serves it)"
        found = headstart.context_paths(folder, dockerignore.read_patterns(folder) or ())
        if found is None:
            return "a context over the head start's bounds"
        body = pax_archive(folder, found)
    except OSError as exc:
        return f"cannot read the submission: {exc.strerror or exc}"
    if body[156:157] in EXTENDED:
        return "a first entry with a long name (the API route gzips it)"
    if not builds_with_buildkit(path):
        return "the engine does not build with BuildKit"
    own = {**labels, LABEL_SUBMISSION: folder.name}
    stack = contextlib.ExitStack()
    try:
        runs = stack.enter_context(bounded_runs(limits))
        sent = GrpcBuild(path, io.BytesIO(body), headstart.DOCKERFILE, own, None, runs.parent,
                         runs.add_host, connect_timeout_s=PING_TIMEOUT_S)  # fmt: skip
    except (OSError, EngineError) as exc:
        stack.close()
        return f"the engine did not take it: {exc}"
    return GrpcHeadStart(sent, path, folder, own, (limits, runs, stack))

"""The head start: ``grade`` on one submission sends its build before loading the rest of itself.

Loading the grader (docker-py, requests, its own modules) takes about 0.15 s, and until now
the build waited for it: on one submission, the case of a CI job or of an instructor checking
one student, that was a third of what ``grade`` added to Docker's own work (issue 6). Here,
with the standard library alone, the command line tars the submission folder exactly as
docker-py would (``archive``), sends the same ``POST /build`` on the engine's unix socket, and
a thread reads the answer; ``grader.engine.Engine.build`` adopts it when the pipeline asks for
the very same build (same folder, Dockerfile, labels and build bounds: the build runs under
a cgroup of its own, ``grader.engine.cgroups``, made here when this machine allows it), and
otherwise it is cancelled.

Only where this is provably the build docker-py would send (``folder_for``): one submission
folder with a plain ``Dockerfile`` (and ``.dockerignore``, if any, applied by docker-py's own
rules: ``grader.engine.dockerignore``), a local unix socket, no Docker client configuration
(docker-py would add registry credentials or proxy build arguments from it), a small context,
and a build the run will want (``--force``, or no earlier report to reuse). In every other
case nothing is sent here and the pipeline builds as before. Besides the engine, this is the
one module that talks to Docker, for that one request; everything else goes through
``grader.engine``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import socket
import stat
import tarfile
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from grader.engine import cgroups, dockerignore
from grader.engine.cgroups import BuildGroup, Limits
from grader.labels import image_labels

DOCKERFILE = "Dockerfile"
MAX_ENTRIES = 5000
"""Most files and folders in a context sent ahead (a larger one waits for the pipeline)."""
MAX_BYTES = 10_000_000
"""Largest context sent ahead: well under the smallest limit a lab would set in practice; the
pipeline still applies the lab's own limit, and a context it refuses is never built."""
DEFAULT_SOCKET = "/var/run/docker.sock"
CLIENT_CONFIGS = ("~/.docker/config.json", "~/.dockercfg")
"""docker-py's client configuration files (and ``$DOCKER_CONFIG/config.json``)."""
ABANDON_WAIT_S = 10.0
"""Longest ``abandon`` waits for the engine to end a cancelled build."""


class Refused(Exception):
    """The engine answered the build with an HTTP error (4xx: the builder refused it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    def is_client_error(self) -> bool:
        """True for a 4xx: the request (the Dockerfile) was refused, not the engine broken."""
        return 400 <= self.status < 500


def engine_socket(hosts: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The unix socket of the one engine ``grade`` will use, None when it is not one (pure)."""
    if len(hosts) > 1:
        return None
    url = hosts[0] if hosts else environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    return url.removeprefix("unix://") if url.startswith("unix:///") else None


def client_configured(environ: Mapping[str, str]) -> bool:
    """True when a Docker client configuration exists that docker-py would read."""
    paths = [os.path.expanduser(p) for p in CLIENT_CONFIGS]
    if environ.get("DOCKER_CONFIG"):
        paths.append(os.path.join(environ["DOCKER_CONFIG"], "config.json"))
    return any(os.path.exists(p) for p in paths)


def folder_for(paths: Sequence[Path], output: Path, rebuild: bool) -> Path | str:
    """The submission folder to send ahead, or why there is none.

    ``rebuild``: ``--force`` was given (an earlier report in ``output`` is otherwise reused,
    and then nothing is built).
    """
    if len(paths) != 1:
        return "not exactly one PATH"
    folder = paths[0]
    try:
        if not stat.S_ISREG(os.lstat(folder / DOCKERFILE).st_mode):
            return "the Dockerfile is not a plain file"
    except OSError:
        return "no Dockerfile in PATH"  # a class folder, a zip, another name: the pipeline's
    if os.path.lexists(folder / dockerignore.NAME) and dockerignore.read_patterns(folder) is None:
        return "a .dockerignore that is not a plain UTF-8 file"
    if not rebuild and any(output.glob("*/report.json")):
        return "earlier reports may be reused"
    return folder.resolve()


def context_paths(
    root: Path,
    patterns: Sequence[str] = (),
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BYTES,
) -> list[str] | None:
    """The files and folders under ``root`` that docker-py sends (``.dockerignore``
    ``patterns`` applied: ``grader.engine.dockerignore``), sorted; None beyond the bounds."""
    found: list[str] = []
    size = 0
    for path in dockerignore.included(root, patterns, DOCKERFILE):
        found.append(path)
        info = os.lstat(root / path)
        size += info.st_size if stat.S_ISREG(info.st_mode) else 0
        if len(found) > max_entries or size > max_bytes:
            return None
    return sorted(found)


def archive(root: Path, paths: Sequence[str]) -> bytes:
    """The build context as docker-py's ``utils.build.create_archive`` writes it: an
    uncompressed tar of ``paths``, headers from ``lstat``, in that order."""
    buffer = io.BytesIO()
    with tarfile.open(mode="w", fileobj=buffer) as tar:
        for path in paths:
            full = os.path.join(root, path)
            info = tar.gettarinfo(full, arcname=path)
            if info is None:  # a socket or a device: docker-py leaves it out too
                continue
            if info.isfile():
                with open(full, "rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info, None)
    return buffer.getvalue()


def build_request(
    body_size: int, labels: Mapping[str, str], limits: Limits, parent: str | None
) -> bytes:
    """The request line and headers docker-py sends for ``Engine.build`` (pure). The path
    has no version: the engine then uses its own API version, which ``Engine`` uses too."""
    query = "&".join(
        (
            "q=False",
            "nocache=False",
            "rm=True",
            "forcerm=True",
            "pull=False",
            f"dockerfile={DOCKERFILE}",
            *(f"{k}={quote(v, safe='')}" for k, v in cgroups.api_params(limits, parent).items()),
            "labels=" + quote(json.dumps(image_labels(labels)), safe=""),
        )
    )
    head = (
        f"POST /build?{query} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/tar\r\n"
        f"Content-Length: {body_size}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii")


def same_build(
    sent: tuple[Path, str, Mapping[str, str], Limits],
    context: Path,
    dockerfile: str,
    labels: Mapping[str, str],
    limits: Limits,
) -> bool:
    """True when a build asked for (``context``...) is the one ``sent`` ahead (its resolved
    folder, Dockerfile, labels and limits): the same image labels, the same bounds (pure)."""
    folder, name, sent_labels, sent_limits = sent
    return (
        context.resolve() == folder
        and dockerfile == name
        and image_labels(labels) == image_labels(sent_labels)
        and limits == sent_limits
    )


_END = object()
"""Put in the queue after the last item of a build that ran to its end."""


class HeadStart:
    """A build sent ahead, read by a thread until ``Engine.build`` adopts it (``take``)."""

    def __init__(
        self,
        sock: socket.socket,
        socket_path: str,
        context: Path,
        labels: Mapping[str, str],
        bounded: tuple[Limits, BuildGroup | None] = (cgroups.DEFAULT_LIMITS, None),
    ) -> None:
        self.context = context
        self.dockerfile = DOCKERFILE
        self.labels = dict(labels)
        """The run's labels: ``batch.run_class`` uses them, so the images match."""
        self.limits, self.group = bounded
        """What the build may use, and its cgroup (removed by the adopter, or here)."""
        self.socket_path = socket_path
        self.sent_at = time.monotonic()
        self._sock = sock
        self._items: queue.Queue[object] = queue.Queue()
        self._image: str | None = None
        self._lock = threading.Lock()
        self._taken = False
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read, name="headstart", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        import http.client  # here, after the request is sent: ~15 ms it need not wait for

        response = http.client.HTTPResponse(self._sock)
        try:
            response.begin()
            if response.status >= 400:
                body = response.read(64_000).decode("utf-8", "replace")
                try:
                    message = str(json.loads(body).get("message", body))
                except (ValueError, AttributeError):
                    message = body
                self._items.put(Refused(response.status, message.strip()))
                return
            for line in response:
                if not line.strip():
                    continue
                item = json.loads(line)
                aux = item.get("aux") if isinstance(item, dict) else None
                if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
                    self._image = aux["ID"]
                self._items.put(item)
            self._items.put(_END)
        except Exception as exc:  # OSError once closed or when the engine goes; bad JSON
            self._items.put(exc)
        finally:
            response.close()
            self._sock.close()
            self._done.set()

    def matches(
        self, context: Path, dockerfile: str, labels: Mapping[str, str], limits: Limits
    ) -> bool:
        """True when the pipeline asks for this very build, with the same bounds."""
        mine = (self.context, self.dockerfile, self.labels, self.limits)
        return same_build(mine, context, dockerfile, labels, limits)

    def take(self) -> bool:
        """Claim the build for its adopter: True once, False after (or once abandoned)."""
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken

    def stream(self, read_timeout_s: float) -> Generator[dict[str, object], None, None]:
        """The build's JSON messages, as docker-py's ``build(decode=True)`` yields them.

        Raises:
            Refused: the engine answered with an HTTP error.
            TimeoutError: no message for ``read_timeout_s``.
            OSError, ValueError: the connection failed or the answer was not JSON.
        """
        finished = False
        try:
            while True:
                try:
                    item = self._items.get(timeout=read_timeout_s)
                except queue.Empty:
                    raise TimeoutError(f"no build output for {read_timeout_s:g} s") from None
                if item is _END:
                    finished = True
                    return
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, dict):
                    yield item
        finally:
            if not finished:  # a deadline, a timeout, an error: the engine stops the build
                self._close()

    def abandon(self, wait_s: float = ABANDON_WAIT_S) -> str | None:
        """Cancel the build if nobody adopted it; the image it made anyway, to remove.

        Only the sending side is closed: the engine cancels a build whose client has gone,
        and the answer is still read to its end, so that an image finished just before is
        known (waiting at most ``wait_s``, then the connection is closed whatever happens).
        """
        if not self.take():
            return None
        with contextlib.suppress(OSError):  # already closed by the engine
            self._sock.shutdown(socket.SHUT_WR)
        self._done.wait(wait_s)
        self._close()
        if self.group is not None:
            self.group.remove()
        return self._image

    def _close(self) -> None:
        with contextlib.suppress(OSError):  # already closed by the engine
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def begin(
    paths: Sequence[Path],
    output: Path,
    rebuild: bool,
    hosts: Sequence[str],
    labels: Mapping[str, str],
    limits: Limits = cgroups.DEFAULT_LIMITS,
    environ: Mapping[str, str] = os.environ,
) -> HeadStart | str:
    """Send the build of the one submission in ``paths`` now, under ``limits`` (a cgroup of
    its own when one can be made here), or say why not."""
    path = engine_socket(hosts, environ)
    if path is None:
        return "not a local unix socket, or several engines"
    if client_configured(environ):
        return "a Docker client configuration"
    folder = folder_for(paths, output, rebuild)
    if isinstance(folder, str):
        return folder
    try:
        found = context_paths(folder, dockerignore.read_patterns(folder) or ())
        if found is None:
            return f"a context over {MAX_ENTRIES} entries or {MAX_BYTES // 1_000_000} MB"
        body = archive(folder, found)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot read the submission: {exc.strerror or exc}"
    group = _group(limits)
    try:
        sock.connect(path)
        parent = group.parent if group is not None else None
        sock.sendall(build_request(len(body), labels, limits, parent) + body)
    except OSError as exc:
        sock.close()
        if group is not None:
            group.remove()
        return f"the engine did not take it: {exc.strerror or exc}"
    return HeadStart(sock, path, folder, labels, (limits, group))


def _group(limits: Limits) -> BuildGroup | None:
    """The build's cgroup, when this machine lets us make one (the engine, once connected,
    adopts the build only if it would have made one too: ``Engine.build``)."""
    if cgroups.usable() is not None:
        return None
    try:
        return BuildGroup(limits)
    except OSError:
        return None

"""The head start on BuildKit: ``grade`` on one submission sends its build to BuildKit's gRPC API
before loading the rest of itself (``grader.engine.headstart`` does it for the classic builder).

Loading the grader (docker-py, pytest, its own modules) takes about 0.2 s; a build sent after
it waited for it. Here a thread of the command line, with the standard library, ``h2`` and the
engine's light modules alone, asks the engine whether it builds with BuildKit (``/_ping``) and
takes a cgroup parent (``/info``: the tests ``Engine`` makes before every BuildKit build), bounds
the build's RUN containers (``grader.engine.runbounds``) and sends the very request the pipeline
would send (``grader.engine.buildgrpc``), while the main thread loads the grader. ``Engine``
adopts it when the pipeline asks for the same build (same folder, Dockerfile, labels, limits,
no target); otherwise it is cancelled and what it made is removed. When the engine would build
otherwise (the classic builder, the CLI for a secret mount, no cgroup parent), nothing is sent
and the pipeline builds as before.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from grader.engine import cgroups, dockerignore, headstart
from grader.engine.cgroups import Limits
from grader.labels import LABEL_SUBMISSION

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import IO

    from grader.engine.runbounds import RunBuild
    from grader.facts.logcap import CappedText

LOG_LIMIT = 4_000_000
"""Characters of build log kept here; the adopter keeps its own bound of them."""
TIMEOUT_S = 3600.0
"""The build's own bound here: the adopter applies the lab's, from when it was sent."""
ASK_TIMEOUT_S = 5.0
"""Longest the engine may take to answer ``/_ping`` and ``/info``."""
SEND_WAIT_S = 2.0
"""Longest the command line waits for the build to be sent before it loads the rest of the
grader: the thread sends it sooner alone (about 0.1 s) than beside those imports."""
READ_WAIT_S = 0.3
"""Longest the command line then waits for the engine to have read the build's context: its
imports hold the interpreter's lock, which the thread serving the context needs (measured:
BuildKit's first RUN 0.03-0.06 s later beside them, the build as much longer)."""
ABANDON_WAIT_S = 10.0
"""Longest ``abandon`` waits for the cancelled build's thread."""

Outcome = tuple[str | None, str | None]
"""The image id and the builder's error, as ``grpc_build`` returns them."""


def _ask(socket_path: str, path: str) -> tuple[dict[str, str], bytes]:
    """GET ``path`` from the engine's unix socket in HTTP/1.0 (the answer ends with the
    connection: no chunks to read): the headers, lower-cased, and the body.

    Raises:
        OSError: the engine did not answer 200.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(ASK_TIMEOUT_S)
        sock.connect(socket_path)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode("ascii"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if len(lines[0].split()) < 2 or lines[0].split()[1] != "200":
        raise OSError(f"GET {path}: {lines[0]}")
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    return {k.strip().lower(): v.strip() for k, v in headers.items()}, body


def refusal(socket_path: str) -> str | None:
    """None when the engine builds with BuildKit through its API under a cgroup parent of
    ours (what ``Engine`` would do for this build: ``Builds.builder_for``,
    ``HeadStarts._cgroup_refusal``), else why not."""
    from grader.engine.buildgrpc import buildkit_by_default

    try:
        if not buildkit_by_default(_ask(socket_path, "/_ping")[0]):
            return "the engine does not build with BuildKit by default"
        info = json.loads(_ask(socket_path, "/info")[1])
    except (OSError, ValueError) as exc:
        return f"the engine did not answer: {exc}"
    return cgroups.engine_refusal(info)


def body(root: Path) -> IO[bytes]:
    """The context the pipeline sends (``.dockerignore`` applied), as a rewound file.

    Raises:
        OSError: the folder could not be read, or is larger than a head start takes.
    """
    import gzip
    import shutil

    from grader.engine.buildgrpc import EXTENDED

    found = headstart.context_paths(root, dockerignore.read_patterns(root) or ())
    if found is None:
        raise OSError("a context too large for a head start")
    plain = io.BytesIO(headstart.archive(root, found))
    if bytes(plain.getbuffer()[156:157]) not in EXTENDED:
        return plain
    packed = io.BytesIO()  # at most MAX_BYTES: headstart.context_paths
    with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=1, mtime=0) as zipped:
        shutil.copyfileobj(plain, zipped)
    packed.seek(0)
    return packed


class GrpcHead:
    """A BuildKit build sent ahead by a thread, until ``Engine`` adopts it (``take``)."""

    def __init__(
        self, socket_path: str, context: Path, labels: Mapping[str, str], limits: Limits
    ) -> None:
        self.context = context
        self.dockerfile = headstart.DOCKERFILE
        self.labels = dict(labels)
        """The run's labels: ``batch.run_class`` uses them, so the images match."""
        self.submission = context.name
        """The submission's name on the image (the pipeline names a folder after itself)."""
        self.limits = limits
        self.socket_path = socket_path
        self.sent_at = time.monotonic()
        self.text: CappedText | None = None
        """The build's log, once sent."""
        self.runs: RunBuild | None = None
        """The ``runbounds.RunBuild`` the build runs under, once sent."""
        self.outcome: Outcome | BaseException | None = None
        self.declined: str | None = None
        """Why nothing was sent (set before ``decided``)."""
        self.decided = threading.Event()
        """Set once the build was sent, or declined."""
        self.read = threading.Event()
        """Set once the engine has read the context (or nothing more will be read)."""
        self.finished = threading.Event()
        self._released = threading.Event()
        self._cancel: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._taken = False
        self._thread = threading.Thread(target=self._run, name="headgrpc", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.declined = refusal(self.socket_path)
            if self.declined is None:
                self._build()
        except Exception as exc:  # OSError: the groups, the folder; anything else: ours
            self.declined = self.declined or f"{type(exc).__name__}: {exc}"
        finally:
            self.decided.set()
            self.read.set()
            self.finished.set()

    def _build(self) -> None:
        from grader.engine.buildgrpc import grpc_build, needs_session
        from grader.engine.runbounds import bounded_runs  # inotify: not before the thread
        from grader.facts.logcap import CappedText

        if needs_session(self.context / self.dockerfile):
            self.declined = "a secret or ssh mount: the Docker CLI builds it"
            return
        self.text = text = CappedText(LOG_LIMIT)

        with bounded_runs(self.limits) as runs, contextlib.closing(body(self.context)) as sent:
            self.runs = runs
            self.sent_at = time.monotonic()
            labels = {**self.labels, LABEL_SUBMISSION: self.submission}
            try:
                self.outcome = grpc_build(
                    self.socket_path, sent, self.dockerfile, labels, TIMEOUT_S, text,
                    self.decided.set, None, runs.parent, self._register, add_host=runs.add_host,
                    on_read=self.read.set,
                )  # fmt: skip
            except BaseException as exc:  # the adopter raises it as its own
                self.outcome = exc
            if not self.decided.is_set():  # refused before it was sent: the pipeline builds
                self.declined = f"not sent: {self.outcome}"
            self.finished.set()
            self._released.wait()  # the adopter reads the RUN groups' peaks first

    def _register(self, cancel: Callable[[], None] | None) -> None:
        with self._lock:
            self._cancel = cancel

    def running_step(self) -> bool:
        """True while one of the build's RUN steps runs (its container seen by the watcher)."""
        runs = self.runs
        return runs is not None and not self.finished.is_set() and runs.running()

    def over(self) -> bool:
        """True once the build has ended, or was never sent."""
        return self.finished.is_set()

    def cancel(self) -> None:
        """Stop the build in the engine (closing its connection), from any thread."""
        with self._lock:
            cancel = self._cancel
        if cancel is not None:
            cancel()

    def release(self) -> None:
        """Let the thread remove its RUN groups' bookkeeping (after the adopter's reads)."""
        self._released.set()

    def matches(
        self, context: Path, dockerfile: str, labels: Mapping[str, str], limits: Limits
    ) -> bool:
        """True when the pipeline asks for this very build, with the same bounds."""
        mine = (self.context, self.dockerfile, self.labels, self.limits)
        same = headstart.same_build(mine, context, dockerfile, labels, limits)
        return same and labels.get(LABEL_SUBMISSION) == self.submission

    def take(self) -> bool:
        """Claim the build for its adopter: True once, False after (or once abandoned)."""
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken

    def abandon(self, wait_s: float = ABANDON_WAIT_S) -> str | None:
        """Cancel the build if nobody adopted it; the image it made anyway, to remove."""
        if not self.take():
            return None
        self.cancel()
        self.finished.wait(wait_s)
        self.cancel()  # sent meanwhile
        self.release()
        self._thread.join(wait_s)
        outcome = self.outcome
        return outcome[0] if isinstance(outcome, tuple) else None


def begin(
    paths: list[Path], output: Path, rebuild: bool, hosts: list[str], labels: Mapping[str, str],
    limits: Limits = cgroups.DEFAULT_LIMITS, environ: Mapping[str, str] = os.environ,
) -> GrpcHead | str:  # fmt: skip
    """Start sending the build of the one submission in ``paths`` (a thread asks the engine
    first), or say why not."""
    path = headstart.engine_socket(hosts, environ)
    if path is None:
        return "not a local unix socket, or several engines"
    folder = headstart.folder_for(paths, output, rebuild)
    if isinstance(folder, str):
        return folder
    return GrpcHead(path, folder, labels, limits)

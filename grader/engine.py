"""The only importer of ``docker``: client, labels, build, containers, archive reads, clean-up.

Every third-party exception is translated here (habit 4): ``docker.errors.*`` and the
``requests`` exceptions the SDK leaks become ``EngineError``/``EngineUnavailable``, or a stage
outcome (``BuildTimedOut``) when the cause is the submission.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import socket
import stat
import sys
import tarfile
import time
import traceback
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO


@contextlib.contextmanager
def _unimportable(name: str) -> Iterator[None]:
    """While the block runs, ``import name`` fails with ImportError (as if not installed)."""
    saved = sys.modules.get(name)
    sys.modules[name] = None  # type: ignore[assignment]  # the documented "not importable"
    try:
        yield
    finally:
        if saved is None:
            del sys.modules[name]
        else:
            sys.modules[name] = saved


# docker-py imports paramiko, only for its ssh:// adapter, when it is imported itself: about
# 90 ms, a quarter of grade's start-up. The grader reaches ssh:// engines through the system's
# ssh (use_ssh_client), which never uses paramiko; the adapter is loaded when one is asked for
# (_ssh_adapter). Habit: start-up is on every submission's critical path (bench/, issue 6).
with _unimportable("paramiko"):
    import docker
    import docker.api.client
import docker.errors  # noqa: E402
import docker.utils  # noqa: E402
import docker.utils.build  # noqa: E402
import requests.exceptions  # noqa: E402
import urllib3.exceptions  # noqa: E402

from grader.errors import BuildTimedOut, EngineError, EngineUnavailable, PullFailed  # noqa: E402
from grader.headstart import HeadStart, Refused  # noqa: E402
from grader.labels import LABEL, image_labels, owner_of, run_of  # noqa: E402
from grader.logcap import CappedText  # noqa: E402

log = logging.getLogger(__name__)

MACHINE_FAULTS = ("no space left on device", "disk quota exceeded", "input/output error")
"""Build errors that come from the machine, not from the student's Dockerfile."""
NO_ENGINE = "no Docker engine: start Docker or run make grade as root"
MIN_API_VERSION = "1.24"
"""Only used to ask the engine its own API version, which is then used for everything."""
_TRANSIENT = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,  # raised raw while iterating a streamed response
    OSError,
)
_READ_TIMEOUTS = (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)


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


@dataclass(frozen=True)
class OverlayLayout:
    """An image's layers as a local overlay2 engine stores them."""

    diff_dirs: tuple[str, ...]
    """Each layer's diff folder, bottom first (in ``RootFS.Layers`` order)."""
    config: str
    """The image config file (its sha256 is the image id)."""
    opaque_xattr: str
    """The extended attribute marking an opaque folder (``trusted.overlay.opaque``)."""


def _release(exc: BaseException) -> None:
    """Close now what a failed connection left in its frames.

    docker-py's unix-socket ``connect()`` does not close its socket when connecting fails
    (the engine is down); the traceback's frame keeps it alive until some later garbage
    collection warns about it. Clearing the frames closes it here, silently.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if current.__traceback__ is not None:
                traceback.clear_frames(current.__traceback__)
            current = current.__cause__ or current.__context__
        gc.collect()


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn SDK and transport exceptions into ``EngineError`` naming the action."""
    try:
        yield
    except docker.errors.APIError as exc:
        raise EngineError(f"{action}: {exc.explanation or exc}") from exc
    except Refused as exc:  # the same, for a build sent ahead (grader.headstart)
        raise EngineError(f"{action}: {exc.message or exc}") from exc
    except _TRANSIENT as exc:
        _release(exc)
        raise EngineError(f"{action}: {type(exc).__name__}: {exc}") from exc


def _ssh_adapter() -> None:
    """Give docker-py its ssh:// adapter, left out at import (see ``_unimportable`` above)."""
    client = vars(docker.api.client)
    if "SSHHTTPAdapter" not in client:
        from docker.transport.sshconn import SSHHTTPAdapter  # loads paramiko, now only

        client["SSHHTTPAdapter"] = SSHHTTPAdapter


class Engine:
    """A connection to one Docker engine, and everything the grader asks of it."""

    def __init__(self, base_url: str | None = None, timeout_s: float = 60.0) -> None:
        """Connect and check that the engine answers.

        Raises:
            EngineUnavailable: no engine answers at ``base_url`` (or ``DOCKER_HOST``).
        """
        params: dict[str, Any] = {"base_url": base_url} if base_url else {}
        if not base_url:
            params.update(docker.utils.kwargs_from_env())
        url = str(params.get("base_url") or "unix:///var/run/docker.sock")
        if url.startswith("unix://") and not Path(url.removeprefix("unix://")).exists():
            # docker-py leaks the socket of a failed unix connect; there is nothing to ask
            raise EngineUnavailable(NO_ENGINE)
        # Not version="auto": that talks to the engine inside the constructor, and a failure
        # there leaks a socket we could not close. /version answers whatever the API version.
        if url.startswith("ssh://"):
            params["use_ssh_client"] = True  # the system's ssh (its config and agent), no paramiko
            _ssh_adapter()
        try:
            probe = docker.APIClient(**params, version=MIN_API_VERSION, timeout=int(timeout_s))
        except docker.errors.DockerException as exc:  # a URL the SDK cannot use
            raise EngineUnavailable(f"{NO_ENGINE} ({url}: {exc})") from exc
        try:
            server = str(probe.version(api_version=False)["ApiVersion"])
        except (*_TRANSIENT, KeyError) as exc:
            _release(exc)
            raise EngineUnavailable(NO_ENGINE) from exc
        finally:
            probe.close()
        self.api = docker.APIClient(**params, version=server, timeout=int(timeout_s))
        self.base_url = base_url or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        self._storage: dict[str, Any] | None = None  # engine info, asked once (overlay_layout)
        self._head: HeadStart | None = None

    def close(self) -> None:
        """Close the connection to the engine (after removing what a head start it was given
        but never asked for built anyway)."""
        head, self._head = self._head, None
        image = head.abandon() if head is not None else None
        if image is not None:
            log.info("removed %s, built ahead but never asked for", image[:19])
            self.remove_image(image)
        self.api.close()

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
            image = head.abandon()
            if image is not None:
                self.remove_image(image)

    def _adopt(self, context: Path, dockerfile: str, labels: Mapping[str, str]) -> HeadStart | None:
        head = self._head
        if head is not None and head.matches(context, dockerfile, labels) and head.take():
            log.info("build of %s: adopted the one sent ahead", context.name)
            return head
        return None

    def is_local(self) -> bool:
        """True when the engine runs on this machine (its /proc is ours)."""
        return self.base_url.startswith(("unix://", "npipe://"))

    # -- images -----------------------------------------------------------------------------

    def build(
        self,
        context: Path,
        dockerfile: str,
        labels: Mapping[str, str],
        timeout_s: float,
        log_limit: int,
        text: CappedText | None = None,
        on_sent: Callable[[], None] = lambda: None,
    ) -> BuildOutcome:
        """Build ``context`` with the classic builder, keeping a bounded log (in ``text`` when
        given: e.g. a log that times each line, for the layer-cache probe); ``on_sent`` is
        called once the engine has the context and the build runs.

        Raises:
            BuildTimedOut: the build did not finish within ``timeout_s``.
            EngineError: the engine failed (not the Dockerfile).
        """
        text = text if text is not None else CappedText(log_limit)
        started = time.monotonic()
        head = self._adopt(context, dockerfile, labels)
        if head is not None:
            started = head.sent_at
        if head is None:
            with _translated("build"):
                # fail before docker-py writes the context to a temporary file it would not
                # close if the request failed (the engine went away)
                self.api.ping()
        try:
            image_id, error = self._build(
                context, dockerfile, labels, (started, timeout_s), text, on_sent, head
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
            if isinstance(cause, (*_READ_TIMEOUTS, TimeoutError)):  # silent for timeout_s
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
    ) -> tuple[str | None, str | None]:
        """Stream the build (``timing``: when it was sent, and the timeout); the image id and
        the builder's error. The read timeout catches a silent hang, the deadline a chatty one.
        """
        image_id: str | None = None
        error: str | None = None
        started, timeout_s = timing
        read_timeout = max(1, int(timeout_s))
        deadline = started + timeout_s
        with _translated("build"):
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
        except _TRANSIENT as exc:
            _release(exc)
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
        except _TRANSIENT as exc:
            _release(exc)
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

    def inspect_image(self, image_id: str) -> dict[str, Any]:
        """``docker image inspect`` as a dict."""
        with _translated("inspect image"):
            result: dict[str, Any] = self.api.inspect_image(image_id)  # type: ignore[no-untyped-call]
            return result

    def read_image_file(self, image_id: str, path: str, labels: Mapping[str, str]) -> bytes | None:
        """A file's bytes from an image, without starting anything; None when absent."""
        with _translated("read file from image"):
            created = self.api.create_container(
                image_id, command=["/grader-never-started"], entrypoint=[], labels=dict(labels)
            )
        try:
            return self.read_file(created["Id"], path)
        finally:
            self.remove_container(created["Id"])

    # -- containers ---------------------------------------------------------------------------

    def create_container(
        self,
        image_id: str,
        port: int | None,
        labels: Mapping[str, str],
        host_config: Mapping[str, Any],
    ) -> str:
        """Create (not start) a container publishing ``port`` (if any) on 127.0.0.1 at a host
        port Docker picks."""
        bindings: dict[int | str, Any] = {port: ("127.0.0.1",)} if port else {}
        with _translated("create container"):
            config = self.api.create_host_config(port_bindings=bindings, **dict(host_config))
            created = self.api.create_container(
                image_id, ports=list(bindings), labels=dict(labels), host_config=config
            )
            return str(created["Id"])

    def start(self, container_id: str) -> None:
        """Start a created container."""
        with _translated("start container"):
            self.api.start(container_id)

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        """``docker container inspect`` as a dict (always fresh)."""
        with _translated("inspect container"):
            result: dict[str, Any] = self.api.inspect_container(container_id)
            return result

    def logs(self, container_id: str, limit: int) -> str:
        """The container's stdout and stderr, bounded to about ``limit`` characters."""
        text = CappedText(limit)
        with _translated("container logs"):
            for chunk in self.api.logs(container_id, stream=True, follow=False):
                text.add(chunk.decode("utf-8", errors="replace"))
        return text.text()

    def top_uids(self, container_id: str) -> list[tuple[int, int]]:
        """(pid, uid) of the container's processes, as the host's ``ps`` sees them."""
        with _translated("container top"):
            top = self.api.top(container_id, ps_args="-o pid,uid")
        titles = [t.upper() for t in top.get("Titles", [])]
        rows = top.get("Processes") or []
        pid_i, uid_i = titles.index("PID"), titles.index("UID")
        return [(int(r[pid_i]), int(r[uid_i])) for r in rows]

    def exec_read(self, container_id: str, path: str) -> bytes | None:
        """``cat PATH`` inside a running container; None when that fails (no ``cat``, no file)."""
        try:
            exec_id = self.api.exec_create(container_id, ["cat", path], stderr=False)["Id"]
            out = self.api.exec_start(exec_id)
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError:
            return None
        except _TRANSIENT as exc:
            _release(exc)
            raise EngineError(f"exec in container: {exc}") from exc
        return out if code == 0 and isinstance(out, bytes) else None

    def read_file(self, container_id: str, path: str) -> bytes | None:
        """A regular file's bytes through the archive API; None when absent."""
        try:
            stream, _ = self.api.get_archive(container_id, path)
            data = b"".join(stream)
        except docker.errors.NotFound:
            return None
        except _TRANSIENT as exc:
            _release(exc)
            raise EngineError(f"read {path}: {exc}") from exc
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = next((m for m in tar.getmembers() if m.isfile()), None)
            extracted = tar.extractfile(member) if member else None
            return extracted.read() if extracted else None

    def remove_container(self, container_id: str) -> None:
        """Force-remove a container; absent is fine."""
        try:
            self.api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except _TRANSIENT as exc:
            _release(exc)
            log.warning("could not remove container %s: %s", container_id[:12], exc)

    def remove_image(self, image_id: str) -> None:
        """Remove an image and the parents the grader's own label steps made; the student's
        layers below stay, as the build cache (as after ``docker build``). Absent or in use is
        logged, not raised."""
        try:
            chain = self._label_chain(image_id)
            for image in chain:
                self.api.remove_image(image, force=True, noprune=True)
        except docker.errors.NotFound:
            pass
        except _TRANSIENT as exc:
            _release(exc)
            log.warning("could not remove image %s: %s", image_id[:19], exc)

    def _label_chain(self, image_id: str) -> list[str]:
        """``image_id`` and its parents that carry the same grader label (the label steps
        a build appended), child first."""
        chain = [image_id]
        attrs = self.api.inspect_image(image_id)  # type: ignore[no-untyped-call]
        run = ((attrs.get("Config") or {}).get("Labels") or {}).get(LABEL)
        parent = attrs.get("Parent") or ""
        while run is not None and parent:
            try:
                attrs = self.api.inspect_image(parent)  # type: ignore[no-untyped-call]
            except docker.errors.NotFound:
                break
            if ((attrs.get("Config") or {}).get("Labels") or {}).get(LABEL) != run:
                break
            chain.append(parent)
            parent = attrs.get("Parent") or ""
        return chain

    # -- clean-up by label --------------------------------------------------------------------

    def sweep(self, run_id: str | None = None, images: Iterable[str] | None = None) -> int:
        """Remove the grader's containers and images of run ``run_id``, or of dead owners;
        ``images``: the run's images when already listed (``run_images``), not listed again.

        Only objects carrying the grader's label are considered; an object belongs to a dead
        run when its owner label names this host and a pid that no longer runs.
        """
        removed = 0
        with _translated("list grader objects"):
            containers = self.api.containers(all=True, filters={"label": LABEL})
        for obj in containers:
            if self._sweepable(obj.get("Labels") or {}, run_id):
                self.remove_container(obj["Id"])
                removed += 1
        for image_id in self.run_images(run_id) if images is None else images:
            self.remove_image(image_id)
            removed += 1
        return removed

    def run_images(self, run_id: str | None, dead_too: bool = False) -> list[str]:
        """Ids of the images carrying run ``run_id``'s label (None: of dead owners; with
        ``dead_too``, of both, in one listing). The engine reads every image it holds to
        answer: tens of ms of its time with a few hundred."""
        with _translated("list grader images"):
            images = self.api.images(filters={"label": LABEL})
        return [
            i["Id"]
            for i in images
            if self._sweepable(i.get("Labels") or {}, run_id)
            or (dead_too and self._sweepable(i.get("Labels") or {}, None))
        ]

    @staticmethod
    def _sweepable(labels: Mapping[str, str], run_id: str | None) -> bool:
        if run_id is not None:
            return run_of(labels) == run_id
        host, _, pid = (owner_of(labels) or "").rpartition(":")
        if host != socket.gethostname() or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    # -- diagnoses: cache-probe rebuild, timed stop, image history and save (added) ------------

    def stop_container(self, container_id: str, grace_s: float) -> tuple[float, int | None]:
        """``docker stop -t grace``: seconds it took and the exit status afterwards."""
        started = time.monotonic()
        with _translated("stop container"):
            self.api.stop(container_id, timeout=max(0, round(grace_s)))
        seconds = time.monotonic() - started
        state = self.inspect_container(container_id).get("State") or {}
        code = state.get("ExitCode")
        return seconds, None if code is None else int(code)

    def top_commands(self, container_id: str) -> list[tuple[int, str]]:
        """(host pid, command line) of the container's processes."""
        with _translated("container top"):
            top = self.api.top(container_id, ps_args="-o pid,args")
        titles = [t.upper() for t in top.get("Titles", [])]
        rows = top.get("Processes") or []
        pid_i = titles.index("PID") if "PID" in titles else 0
        cmd_i = next((i for i, title in enumerate(titles) if title in ("COMMAND", "ARGS")), None)
        return [(int(r[pid_i]), "" if cmd_i is None else str(r[cmd_i])) for r in rows]

    def image_history(self, image_id: str) -> list[dict[str, Any]]:
        """``docker history``: one dict per image config history entry, newest first."""
        with _translated("image history"):
            result: list[dict[str, Any]] = self.api.history(image_id)  # type: ignore[no-untyped-call]
            return result

    def save_image(self, image_id: str) -> BinaryIO:
        """``docker save`` as a readable stream (read it sequentially; never held in memory).

        Raises:
            EngineError: the engine failed (also while reading).
        """
        with _translated("save image"):
            chunks = self.api.get_image(image_id, chunk_size=1 << 20)
        return io.BufferedReader(_ChunkReader(iter(chunks)), buffer_size=1 << 20)

    # -- image waste fast path: a local overlay2 engine's layer folders (added) ---------------

    def overlay_layout(self, attrs: Mapping[str, Any]) -> OverlayLayout | None:
        """Where an inspected image's layers and config lie on this machine, when the engine
        is local and stores them with overlay2 and native diffs (its layer tars are then its
        diff folders as they are); None otherwise (``docker save`` is the way).

        Raises:
            EngineError: the engine failed.
        """
        if not self.is_local():
            return None
        if self._storage is None:
            with _translated("engine info"):
                self._storage = dict(self.api.info())
        info = self._storage
        status = {str(k): str(v) for k, v in info.get("DriverStatus") or []}
        data = (attrs.get("GraphDriver") or {}).get("Data") or {}
        driver = (attrs.get("GraphDriver") or {}).get("Name")
        upper, lower = data.get("UpperDir"), data.get("LowerDir")
        if info.get("Driver") != "overlay2" or driver != "overlay2" or not upper:
            return None
        if status.get("Native Overlay Diff") != "true":
            return None
        top_down = [str(upper), *(str(lower).split(":") if lower else [])]
        image_hex = str(attrs.get("Id", "")).removeprefix("sha256:")
        config = f"{info.get('DockerRootDir')}/image/overlay2/imagedb/content/sha256/{image_hex}"
        xattr = (
            "user.overlay.opaque" if status.get("userxattr") == "true" else "trusted.overlay.opaque"
        )
        return OverlayLayout(tuple(reversed(top_down)), config, xattr)


class _ChunkReader(io.RawIOBase):
    """A file-like view of an iterator of byte chunks, translating transport errors."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
            except _TRANSIENT as exc:
                _release(exc)
                raise EngineError(f"save image: {exc}") from exc
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

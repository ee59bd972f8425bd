"""``Engine``: one Docker engine and everything the grader asks of it (containers here; builds,
clean-up and layer reads in the parts it is made of)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader.engine.base import log
from grader.engine.buildapi import cancel_api_builds
from grader.engine.buildkit import cancel_builds
from grader.engine.builds import Builds
from grader.engine.capped import capped, drop, finish, first_file, is_folder
from grader.engine.networks import Networks
from grader.engine.sdk import (
    MIN_API_VERSION,
    NO_ENGINE,
    TRANSIENT,
    docker,
    release,
    ssh_adapter,
    translated,
)
from grader.engine.storage import Storage
from grader.engine.sweeps import Sweeps
from grader.errors import EngineError, EngineUnavailable
from grader.facts.logcap import CappedText


class Engine(Builds, Sweeps, Storage, Networks):
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
            ssh_adapter()
        try:
            probe = docker.APIClient(**params, version=MIN_API_VERSION, timeout=int(timeout_s))
        except docker.errors.DockerException as exc:  # a URL the SDK cannot use
            raise EngineUnavailable(f"{NO_ENGINE} ({url}: {exc})") from exc
        try:
            server = str(probe.version(api_version=False)["ApiVersion"])
        except (*TRANSIENT, KeyError) as exc:
            release(exc)
            raise EngineUnavailable(NO_ENGINE) from exc
        finally:
            probe.close()
        self.api = docker.APIClient(**params, version=server, timeout=int(timeout_s))
        self.base_url = base_url or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        self._storage = None  # engine info, asked once (overlay_layout)
        self._head = None  # a build sent ahead, until adopted (expect)

    def close(self) -> None:
        """Close the connection to the engine (after removing what a head start it was given
        but never asked for built anyway, and cancelling BuildKit builds still running)."""
        head, self._head = self._head, None
        if head is not None:
            self.discard(head)
        if cancelled := cancel_builds(self.base_url) + cancel_api_builds(self.base_url):
            log.info("cancelled %d BuildKit build(s) still running", cancelled)
        self.api.close()

    def read_image_file(self, image_id: str, path: str, labels: Mapping[str, str]) -> bytes | None:
        """A file's bytes from an image, without starting anything; None when absent."""
        with translated("read file from image"):
            created = self.api.create_container(
                image_id, command=["/grader-never-started"], entrypoint=[], labels=dict(labels)
            )
        try:
            return self.read_file(created["Id"], path)
        finally:
            self.remove_container(created["Id"])

    def create_container(
        self,
        image_id: str,
        port: int | None,
        labels: Mapping[str, str],
        host_config: Mapping[str, Any],
        network: str | None = None,
    ) -> str:
        """Create (not start) a container publishing ``port`` (if any) on 127.0.0.1 at a host
        port Docker picks; or, attached to ``network`` (an internal one), publishing nothing."""
        bindings: dict[int | str, Any] = {port: ("127.0.0.1",)} if port and not network else {}
        options: dict[str, Any] = {**host_config, "port_bindings": bindings}
        if network:
            options["network_mode"] = network
        with translated("create container"):
            config = self.api.create_host_config(**options)
            created = self.api.create_container(
                image_id, ports=list(bindings), labels=dict(labels), host_config=config
            )
            return str(created["Id"])

    def start(self, container_id: str) -> None:
        """Start a created container."""
        with translated("start container"):
            self.api.start(container_id)

    def logs(self, container_id: str, limit: int) -> str:
        """The container's stdout and stderr, bounded to about ``limit`` characters."""
        text = CappedText(limit)
        with translated("container logs"):
            for chunk in self.api.logs(container_id, stream=True, follow=False):
                text.add(chunk.decode("utf-8", errors="replace"))
        return text.text()

    def top_uids(self, container_id: str) -> list[tuple[int, int]]:
        """(pid, uid) of the container's processes, as the host's ``ps`` sees them."""
        with translated("container top"):
            top = self.api.top(container_id, ps_args="-o pid,uid")
        titles = [t.upper() for t in top.get("Titles", [])]
        rows = top.get("Processes") or []
        pid_i, uid_i = titles.index("PID"), titles.index("UID")
        return [(int(r[pid_i]), int(r[uid_i])) for r in rows]

    def exec_shell(self, container_id: str, script: str) -> tuple[int | None, bytes]:
        """``/bin/sh -c SCRIPT`` inside a running container, as ``docker exec`` runs it: its exit
        status (None when it could not run: no ``/bin/sh``, the container gone) and its
        output, empty past ``FILE_LIMIT`` bytes (the image's shell is the student's)."""
        code, out = self._exec(container_id, ["/bin/sh", "-c", script])
        return code, out or b""

    def exec_read(self, container_id: str, path: str) -> bytes | None:
        """``cat PATH`` inside a running container; None when that fails (no ``cat``, no file)
        or prints more than ``FILE_LIMIT`` bytes (the image's ``cat`` is the student's)."""
        code, out = self._exec(container_id, ["cat", path])
        return out if code == 0 else None

    def _exec(self, container_id: str, argv: list[str]) -> tuple[int | None, bytes | None]:
        """Run ``argv`` in a running container: its exit status (None when it could not run)
        and its standard output (None past ``FILE_LIMIT`` bytes: the rest is not read).

        Raises:
            EngineError: the engine could not be reached.
        """
        try:
            exec_id = self.api.exec_create(container_id, argv, stderr=False)["Id"]
            stream = self.api.exec_start(exec_id, stream=True)
            try:
                out = capped(stream)
            finally:
                drop(stream)
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError:
            return None, None
        except TRANSIENT as exc:
            release(exc)
            raise EngineError(f"exec in container: {exc}") from exc
        return (None if code is None else int(code)), out

    def read_file(self, container_id: str, path: str) -> bytes | None:
        """A regular file's first ``FILE_LIMIT`` bytes through the archive API, streamed; None
        when absent or not a regular file (a folder is not even sent)."""
        try:
            stream, stat = self.api.get_archive(container_id, path, chunk_size=1 << 16)
        except docker.errors.NotFound:
            return None
        except TRANSIENT as exc:
            release(exc)
            raise EngineError(f"read {path}: {exc}") from exc
        try:
            return None if is_folder(stat) else first_file(stream)
        finally:
            finish(stream)

    def stop_container(self, container_id: str, grace_s: float) -> tuple[float, int | None]:
        """``docker stop -t grace``: seconds it took and the exit status afterwards."""
        started = time.monotonic()
        with translated("stop container"):
            self.api.stop(container_id, timeout=max(0, round(grace_s)))
        seconds = time.monotonic() - started
        state = self.inspect_container(container_id).get("State") or {}
        code = state.get("ExitCode")
        return seconds, None if code is None else int(code)

    def signal_container(self, container_id: str, signal: str) -> bool:
        """``docker kill -s SIGNAL``; False when the container was no longer running."""
        try:
            self.api.kill(container_id, signal=signal)
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # not running (any more)
                return False
            raise EngineError(f"signal container: {exc.explanation or exc}") from exc
        except TRANSIENT as exc:
            release(exc)
            raise EngineError(f"signal container: {type(exc).__name__}: {exc}") from exc
        return True

    def wait_exit(self, container_id: str, timeout_s: float = 10.0) -> int | None:
        """Wait until the container has stopped; its exit status (None if unknown)."""
        with translated("wait for container"):
            result = self.api.wait(container_id, timeout=max(1, round(timeout_s)))
        code = result.get("StatusCode") if isinstance(result, dict) else None
        return None if code is None else int(code)

    def top_commands(self, container_id: str) -> list[tuple[int, str]]:
        """(host pid, command line) of the container's processes."""
        with translated("container top"):
            top = self.api.top(container_id, ps_args="-o pid,args")
        titles = [t.upper() for t in top.get("Titles", [])]
        rows = top.get("Processes") or []
        pid_i = titles.index("PID") if "PID" in titles else 0
        cmd_i = next((i for i, title in enumerate(titles) if title in ("COMMAND", "ARGS")), None)
        return [(int(r[pid_i]), "" if cmd_i is None else str(r[cmd_i])) for r in rows]

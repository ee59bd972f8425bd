"""Facts from inside a running container: the main process's uid and its listening sockets.

No tool inside the student's image is needed. When the engine is local, the uid, the command
line and the sockets are read from the main process's ``/proc/<pid>`` on the host (once its
cgroup shows it is the container's); otherwise the uid and command line come from the engine's
``top`` (the host's ``ps``) and the sockets from ``cat /proc/net/tcp*`` inside the container.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import shlex
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.engine import Engine
from grader.errors import EngineError
from grader.facts import DevPackages, Socket
from grader.stages import rootfs
from grader.stages.deadline import within

log = logging.getLogger(__name__)

_TESTINFRA = threading.Lock()
"""testinfra loads its modules on first use, without locks: making a host takes turns; running
a command on it (an exec of its own) does not, so one slow container never holds up the other
workers."""
EXEC_TIMEOUT_S = 15.0
"""Longest a command inside a student's container may take (its shell is the student's); the
``docker exec`` left behind ends when the container is removed."""
LISTEN = "0A"
"""State code of a listening socket in /proc/net/tcp."""
DOCKER_DNS = "127.0.0.11"
"""Docker's embedded DNS resolver: on a user-defined network (the grader's internal one,
``grader.stages.isolation``) the engine listens there inside the container's network namespace. That
socket is Docker's, not the app's: it is left out of what the app listens on."""


def _address(hex_ip: str) -> str:
    """Decode /proc/net/tcp's little-endian-per-word hex address."""
    raw = bytes.fromhex(hex_ip)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def parse_proc_net_tcp(text: str) -> tuple[Socket, ...]:
    """Listening sockets from the text of /proc/net/tcp or /proc/net/tcp6 (pure)."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != LISTEN:
            continue
        hex_ip, _, hex_port = fields[1].partition(":")
        try:
            sockets.append(Socket(_address(hex_ip), int(hex_port, 16)))
        except ValueError:
            continue
    return tuple(sorted(set(sockets), key=lambda s: (s.port, s.address)))


@dataclass(frozen=True)
class MainProcess:
    """The container's main process (its PID 1), seen from the host."""

    pid: int
    """Its pid on the engine's host."""
    proc: Path | None
    """Its ``/proc/<pid>`` folder, when the engine runs on this machine and that process is
    the container's (its cgroup names the container): read directly, no ``docker top``."""


def main_process(engine: Engine, container_id: str) -> MainProcess | None:
    """The container's main process, or None when it is not running (one inspect)."""
    return main_of(engine, container_id, engine.inspect_container(container_id))


def main_of(engine: Engine, container_id: str, attrs: Mapping[str, Any]) -> MainProcess | None:
    """The main process of the container whose inspect is ``attrs``, or None when it is not
    running."""
    state = attrs.get("State") or {}
    pid = int(state.get("Pid") or 0)
    if not state.get("Running") or pid <= 0:
        return None
    return MainProcess(pid, _own_proc(engine, pid, str(attrs.get("Id") or container_id)))


def _own_proc(engine: Engine, pid: int, full_id: str) -> Path | None:
    if not engine.is_local():
        return None
    proc = Path(f"/proc/{pid}")
    try:  # a local socket to an engine in a VM (Docker Desktop): that pid is not the app
        return proc if full_id in (proc / "cgroup").read_text() else None
    except OSError:
        return None


def process_uid(engine: Engine, container_id: str, main: MainProcess | None = None) -> int | None:
    """Effective uid of the container's main process (None when it could not be observed)."""
    main = main or main_process(engine, container_id)
    if main is None:
        return None
    if main.proc is not None and (uid := _status_uid(main.proc)) is not None:
        return uid
    try:
        rows = dict(engine.top_uids(container_id))
    except (EngineError, ValueError, KeyError) as exc:
        log.info("top failed for %s: %s", container_id[:12], exc)
        return None
    return rows.get(main.pid, next(iter(rows.values()), None))


def _status_uid(proc: Path) -> int | None:
    """The effective uid on the ``Uid:`` line of ``/proc/<pid>/status`` (real, effective...)."""
    try:
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[2])
    except (OSError, IndexError, ValueError):
        return None
    return None


def command_line(engine: Engine, container_id: str, main: MainProcess) -> str:
    """The main process's command line as it runs now (after any ``exec``), empty if unknown."""
    if main.proc is not None:
        try:
            raw = (main.proc / "cmdline").read_bytes()
            return " ".join(a.decode(errors="replace") for a in raw.split(b"\0") if a)
        except OSError:
            pass
    return next((cmd for p, cmd in engine.top_commands(container_id) if p == main.pid), "")


def listening_sockets(
    engine: Engine, container_id: str, main: MainProcess | None = None
) -> tuple[Socket, ...] | None:
    """TCP sockets listening inside the container; None when they could not be observed."""
    texts = _host_proc(engine, container_id, main) or _in_container(engine, container_id)
    if texts is None:
        return None
    return app_sockets(texts)


def app_sockets(texts: list[str]) -> tuple[Socket, ...]:
    """The app's listening sockets in the texts of /proc/net/tcp and tcp6, Docker's embedded
    DNS left out (pure)."""
    return tuple(s for text in texts for s in parse_proc_net_tcp(text) if s.address != DOCKER_DNS)


def _host_proc(engine: Engine, container_id: str, main: MainProcess | None) -> list[str] | None:
    main = main or main_process(engine, container_id)
    if main is None or main.proc is None:
        return None
    try:
        return [(main.proc / "net" / n).read_text() for n in ("tcp", "tcp6")]
    except OSError:
        return None


def _in_container(engine: Engine, container_id: str) -> list[str] | None:
    texts = [engine.exec_read(container_id, f"/proc/net/{n}") for n in ("tcp", "tcp6")]
    found = [t.decode("ascii", errors="replace") for t in texts if t is not None]
    return found or None


def presence_script(paths: list[str]) -> str:
    """One shell command printing which of ``paths`` are regular files (pure)."""
    if not paths:
        return "exit 0"
    quoted = " ".join(shlex.quote(p) for p in paths)
    return f'for p in {quoted}; do [ -f "$p" ] && echo "$p"; done; exit 0'


@functools.cache
def _backend_class() -> type[Any]:
    """testinfra's docker backend, its ``docker exec`` made through the engine's API: the same
    command in the same container, without a ``docker`` CLI process per check (measured: 0.04
    s against 0.065 s, and none of the CLI's CPU beside the student's app)."""
    from testinfra.backend import base
    from testinfra.backend.docker import DockerBackend

    class EngineBackend(DockerBackend):  # type: ignore[misc]
        def __init__(self, engine: Engine, name: str) -> None:
            super().__init__(name)
            self.engine = engine

        def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
            cmd = self.get_command(command, *args)
            code, out = self.engine.exec_shell(self.name, cmd)
            missing = b"" if code is not None else b"the command could not run"
            return self.result(127 if code is None else code, self.encode(cmd), out, missing)

    return EngineBackend


def _testinfra_present(engine: Engine, container_id: str, paths: list[str]) -> list[bool] | None:
    """For each of ``paths``, whether it is a regular file, seen with pytest-testinfra in one
    ``docker exec`` session; None when the image has no shell."""
    try:
        from testinfra.host import Host  # loaded while the first build runs (jobs.WARM_UP)

        with _TESTINFRA:
            backend = _backend_class()(engine, container_id)
            host = Host(backend)
            backend.set_host(host)
        out = within(EXEC_TIMEOUT_S, lambda: host.run(presence_script(paths)), "exec")
    except (AssertionError, RuntimeError, OSError, EngineError) as exc:
        log.info("testinfra unavailable for %s: %s", container_id[:12], exc)
        return None
    except TimeoutError:
        log.info("no answer from %s within %g s", container_id[:12], EXEC_TIMEOUT_S)
        return None
    if out.rc != 0:  # no /bin/sh in the image
        log.info("no shell in %s: %s", container_id[:12], out.stderr.strip())
        return None
    found = set(out.stdout.splitlines())
    return [p in found for p in paths]


def dev_packages(
    engine: Engine,
    container_id: str,
    workdir: str,
    declared: tuple[str, ...],
    main: MainProcess | None,
) -> DevPackages:
    """Which of the declared development packages are installed under ``workdir``; ``main``:
    the container's running PID 1, None when it has stopped.

    On a local engine, from the host through PID 1's ``/proc/<pid>`` (``grader.stages.rootfs``,
    no exec; as root); otherwise, or when a path meets a link, inside the running container
    with testinfra when it has a shell (its commands run through the engine's exec API, on any
    engine); otherwise through the archive API, which needs no shell and works on a stopped
    container too.
    """
    folder = (workdir or "/").rstrip("/") or ""
    paths = [f"{folder}/node_modules/{n}/package.json" for n in declared]
    seen, method = None, "host"
    if main is not None and main.proc is not None:
        seen = rootfs.files_present(main.proc, container_id, paths)
    if seen is None and main is not None:
        seen, method = _testinfra_present(engine, container_id, paths), "testinfra"
    if seen is None:
        seen, method = [engine.read_file(container_id, p) is not None for p in paths], "archive"
    present = tuple(n for n, here in zip(declared, seen, strict=True) if here)
    return DevPackages(declared, present, f"{folder}/node_modules", method)

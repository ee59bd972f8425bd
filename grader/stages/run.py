"""Run the image sandboxed: the sandbox options (pure), ``start`` and a bounded readiness wait."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grader.engine import Engine
from grader.errors import EngineError, ProbeFailed, StartRefused
from grader.facts import Socket, StartResult, outside_port
from grader.facts.logcap import tail_lines
from grader.stages import probe, runtime

log = logging.getLogger(__name__)

FIRST_POLL_S = 0.01
MAX_POLL_S = 0.05
PROC_POLL_S = 0.005
"""Interval of the readiness poll when the app's sockets are read from its /proc."""
SETTLED_S = 2.0
"""A listening set unchanged this long, with nothing reachable on the port, is a verdict."""


@dataclass(frozen=True)
class Sandbox:
    """Resource bounds of every container the grader starts."""

    memory: str = "512m"
    """Memory limit (swap included)."""
    pids: int = 256
    """Most processes and threads at once."""
    cpus: float = 1.0
    """CPU share, in cores."""


def sandbox_options(sandbox: Sandbox) -> dict[str, Any]:
    """HostConfig options: limits, no capabilities, no privilege gain, no mounts (pure)."""
    return {
        "mem_limit": sandbox.memory,
        "memswap_limit": sandbox.memory,
        "pids_limit": sandbox.pids,
        "nano_cpus": int(sandbox.cpus * 1e9),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "privileged": False,
        "binds": [],
        # bounded on disk too (2 x 1 MB); two files so a read just after a rotation still
        # finds the last full megabyte, and the report can say how much was cut
        "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "2"}},
    }


def start(
    engine: Engine,
    image_id: str,
    port: int | None,
    labels: Mapping[str, str],
    sandbox: Sandbox,
    network: str | None = None,
) -> tuple[str, int | None]:
    """Create and start a sandboxed container publishing ``port`` (if known) on 127.0.0.1;
    or, attached to the internal ``network``, publishing nothing.

    Returns the container id and the port to probe: the host port Docker picked, or with a
    ``network``, ``port`` itself (at the container's address on it).

    Raises:
        StartRefused: the engine refused to start it for the image's reasons (the container,
            created, is left for the caller to remove with the others).
        EngineError: the engine failed otherwise (the container is removed).
    """
    options = sandbox_options(sandbox)
    container_id = engine.create_container(image_id, port, labels, options, network)
    try:
        engine.start(container_id)
    except EngineError as exc:
        if not refused_by_image(str(exc)):
            engine.remove_container(container_id)  # never left behind half-created
            raise
        state = engine.inspect_container(container_id).get("State") or {}
        status = int(state.get("ExitCode") or 0) or 127
        raise StartRefused(container_id, engine_message(str(exc)), status) from exc
    if not port or network:
        return container_id, port
    bindings = (engine.inspect_container(container_id).get("NetworkSettings") or {}).get("Ports")
    published = (bindings or {}).get(f"{port}/tcp") or []
    host_port = next((int(b["HostPort"]) for b in published if b.get("HostPort")), None)
    return container_id, host_port


IMAGE_REFUSAL = re.compile(
    r"unable to start container process: exec|exec format error"
    r"|unable to find (user|group) [^:]*: no matching entries"
)
"""What the engine answers when the image itself cannot start: runc could not execute the
program ENTRYPOINT/CMD names (absent, not executable, no such file), or USER names a user
or group the image's /etc/passwd or /etc/group lacks."""
RUNTIME_NOISE = re.compile(
    r"^.*?(failed to create task for container: |failed to create shim task: "
    r"|OCI runtime create failed: |runc create failed: )+"
)


def refused_by_image(message: str) -> bool:
    """True when an engine's refusal to start a container is the image's doing (pure)."""
    return IMAGE_REFUSAL.search(message) is not None


def engine_message(message: str) -> str:
    """The engine's refusal without the runtime's layers of prefixes (pure):
    ``unable to start container process: exec: "gunicorn": executable file not found...``."""
    text = message.split(": ", 1)[1] if message.startswith("start container: ") else message
    return RUNTIME_NOISE.sub("", text).removesuffix(": unknown").strip()


def refused_result(refused: StartRefused, port: int | None) -> StartResult:
    """What a start the engine refused for the image's reasons gives ``run.starts``."""
    return StartResult(
        refused.container_id,
        None,
        False,
        False,
        refused.exit_status,
        0.0,
        None,
        refused.message,
        port,
        refused=True,
    )


def _unreachable(listening: tuple[Socket, ...] | None, port: int) -> bool:
    """True when sockets listen, none of them reachable from outside on ``port``."""
    return bool(listening) and not _reachable(listening, port)


def wait_ready(
    engine: Engine,
    container_id: str,
    url: str | None,
    port: int,
    timeout_s: float,
    http_timeout_s: float,
) -> StartResult:
    """Poll until the app answers HTTP, the container stops, or ``timeout_s`` passes.

    When the engine is local, the app's sockets are read from its ``/proc`` every 5 ms (a few
    microseconds, no request) and the first HTTP request goes out as soon as the port
    listens: the app is seen within milliseconds, and a booting app is not slowed down by
    requests it cannot answer yet. Otherwise the interval starts at 10 ms and grows to 50 ms,
    with a request each time. An app whose listening sockets settle on addresses unreachable
    through the published port is judged without waiting the full bound. With no ``url``
    (no port known yet), it returns as soon as the app listens from outside.
    """
    started = time.monotonic()
    interval = FIRST_POLL_S
    seen: tuple[Socket, ...] | None = None
    seen_since = started
    main = runtime.main_process(engine, container_id)
    proc = main.proc if main is not None else None  # None: ask the engine, probe each time
    while True:
        if proc is None or not proc.exists():
            state = engine.inspect_container(container_id).get("State") or {}
            if not state.get("Running"):
                return _stopped(engine, container_id, state, started)
        listening = runtime.listening_sockets(engine, container_id, main)
        if url is not None and (proc is None or _reachable(listening, port)):
            try:
                # the lab allows a / this slow, within what is left of the start-up bound
                left = timeout_s - (time.monotonic() - started)
                probe.get(url, min(http_timeout_s, max(left, 1.0)))
                return StartResult(
                    container_id, _port(url), True, True, None, _since(started), None, "", port
                )
            except ProbeFailed:
                pass
        now = time.monotonic()
        if listening != seen:
            seen, seen_since = listening, now
        if url is None and outside_port(seen) is not None:
            return StartResult(container_id, None, False, True, None, now - started, seen, "")
        settled = _unreachable(seen, port) and now - seen_since >= SETTLED_S
        if settled or now - started >= timeout_s:
            tail = tail_lines(engine.logs(container_id, 16_000), 30)
            host_port = _port(url) if url else None
            return StartResult(
                container_id, host_port, False, True, None, now - started, seen, tail, port
            )
        if proc is not None:
            time.sleep(PROC_POLL_S)
        else:
            time.sleep(interval)
            interval = min(interval * 1.5, MAX_POLL_S)


def _reachable(listening: tuple[Socket, ...] | None, port: int) -> bool:
    """True when a socket listens on ``port`` on an address reachable from outside."""
    return any(s.port == port and not s.is_loopback for s in listening or ())


def _stopped(
    engine: Engine, container_id: str, state: Mapping[str, Any], started: float
) -> StartResult:
    tail = tail_lines(engine.logs(container_id, 16_000), 30)
    status = int(state.get("ExitCode") or 0)
    return StartResult(
        container_id,
        None,
        False,
        False,
        status,
        _since(started),
        None,
        tail,
        oom_killed=bool(state.get("OOMKilled")),
    )


def _since(started: float) -> float:
    return time.monotonic() - started


def _port(url: str) -> int | None:
    """The host port of a probe URL."""
    tail = url.rsplit(":", 1)[-1].split("/", 1)[0]
    return int(tail) if tail.isdigit() else None

"""BuildKit builds through the Engine API: ``POST /build?version=2``, no CLI, no session.

The context goes as the request body (a tar, ``.dockerignore`` applied and a Dockerfile from
outside added as docker-py does); the engine serves it to BuildKit as the build's context.
BuildKit's progress comes back in the JSON stream (``grader.engine.buildtrace``), written as
the plain log the CLI would print; the image id in the ``moby.image.id`` message. What needs
a session (``RUN --mount=type=secret`` or ``type=ssh``: the CLI's ``--secret``, ``--ssh``)
is not built here (``needs_session``): ``grader.engine.buildkit`` builds it with the CLI.
Closing the connection cancels the build in the engine, RUN step included.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import secrets
import shutil
import socket
import tarfile
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from grader.engine.buildgrpc import EXTENDED, SPOOL_BYTES, buildkit_by_default, grpc_build
from grader.engine.buildtrace import Malformed, PlainLog, decode
from grader.engine.sdk import READ_TIMEOUTS, TRANSIENT, docker, release
from grader.errors import BuildTimedOut, EngineError
from grader.facts.logcap import CappedText
from grader.labels import LABEL_SUBMISSION, image_labels

_running: dict[int, tuple[str, Callable[[], None]]] = {}
_running_lock = threading.Lock()


def cancel_api_builds(base_url: str) -> int:
    """Cancel this engine's API builds still running; how many there were."""
    with _running_lock:
        doomed = [cancel for url, cancel in _running.values() if url == base_url]
    for cancel in doomed:
        cancel()
    return len(doomed)


def _archive(context: Path, dockerfile: str, out: IO[bytes]) -> str:
    """Write the context tar to ``out``; the Dockerfile's name in it."""
    ignore = context / ".dockerignore"
    patterns: list[str] = []
    if ignore.is_file():
        lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
        patterns = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    path = Path(dockerfile) if Path(dockerfile).is_absolute() else context / dockerfile
    outside = not path.resolve().is_relative_to(context.resolve())
    name = (
        f".dockerfile.{secrets.token_hex(10)}" if outside else path.relative_to(context).as_posix()
    )
    files = docker.utils.build.exclude_paths(
        str(context), patterns, dockerfile=None if outside else name
    )
    with tarfile.open(mode="w", fileobj=out, format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(files):
            info = tar.gettarinfo(str(context / rel), arcname=rel)
            if info is None:
                continue  # a socket or a device: docker-py leaves it out too
            info.mtime = int(info.mtime)  # a float needs a PAX header
            if info.isfile():
                with (context / rel).open("rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
        if outside:
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return name


def _body(context: Path, dockerfile: str) -> tuple[IO[bytes], str]:
    """The request body (rewound) and the Dockerfile's name in it."""
    plain: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115 (returned)
    name = _archive(context, dockerfile, plain)
    plain.seek(156)
    if plain.read(1) not in EXTENDED:
        plain.seek(0)
        return plain, name
    plain.seek(0)
    packed: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115 (returned)
    with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=1, mtime=0) as zipped:
        shutil.copyfileobj(plain, zipped)
    plain.close()
    packed.seek(0)
    return packed, name


def _closer(api: Any, response: Any) -> Callable[[], None]:
    """Close a streaming response from any thread (the reader wakes, the engine cancels)."""

    def close() -> None:
        with contextlib.suppress(Exception):
            sock = api._get_raw_response_socket(response)
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            response.close()

    return close


def api_build(
    api: Any,
    base_url: str,
    context: Path,
    dockerfile: str,
    labels: Mapping[str, str],
    timeout_s: float,
    text: CappedText,
    on_sent: Callable[[], None] = lambda: None,
    target: str | None = None,
    cgroup_parent: str | None = None,
    add_host: str | None = None,
) -> tuple[str | None, str | None]:
    """Build with BuildKit without the CLI (``api``: docker-py's ``APIClient``): through
    BuildKit's gRPC API when a cgroup parent is to be given (``grader.engine.buildgrpc``: the
    engine is then on this machine), else ``POST /build?version=2``; the image id and the
    builder's error (one of them None). ``add_host`` (``name:address``, as ``--add-host``)
    goes only with a cgroup parent: it is how ``runbounds`` tells whose RUN container it is.

    Raises:
        BuildTimedOut: the build did not finish within ``timeout_s`` (it is cancelled).
        EngineError: the engine failed or gave no image.
    """
    body, name = _body(context, dockerfile)
    key = id(body)

    def register(cancel: Callable[[], None] | None) -> None:
        with _running_lock:
            if cancel is None:
                _running.pop(key, None)
            else:
                _running[key] = (base_url, cancel)

    args = (name, labels, timeout_s, text, on_sent, target, cgroup_parent, register)
    try:
        if cgroup_parent and base_url.startswith("unix://"):
            return grpc_build(base_url.removeprefix("unix://"), body, *args, add_host=add_host)
        return _posted(api, body, *args)
    finally:
        body.close()


def _posted(
    api: Any,
    body: IO[bytes],
    name: str,
    labels: Mapping[str, str],
    timeout_s: float,
    text: CappedText,
    on_sent: Callable[[], None],
    target: str | None,
    cgroup_parent: str | None,
    register: Callable[[Callable[[], None] | None], None],
) -> tuple[str | None, str | None]:
    """``POST /build?version=2`` with ``body`` (``cgroup_parent`` is sent, the engine may
    ignore it: Engine 26 does)."""
    own = {LABEL_SUBMISSION: labels[LABEL_SUBMISSION]} if LABEL_SUBMISSION in labels else {}
    params: dict[str, str] = {
        "version": "2",
        "dockerfile": name,
        "labels": json.dumps({**image_labels(labels), **own}),
        "rm": "1",
        "forcerm": "1",
    }
    if target:
        params["target"] = target
    if cgroup_parent:
        params["cgroupparent"] = cgroup_parent
    timed_out = threading.Event()
    image_id: str | None = None
    error: str | None = None
    printer = PlainLog()
    try:
        response = api._post(
            api._url("/build"),
            params=params,
            data=body,
            headers={"Content-Type": "application/x-tar"},
            stream=True,
            timeout=max(1, int(timeout_s)),
        )
        api._raise_for_status(response)
    except docker.errors.APIError as exc:
        raise EngineError(f"build: {exc.explanation or exc}") from exc
    except TRANSIENT as exc:
        release(exc)
        raise EngineError(f"build: {type(exc).__name__}: {exc}") from exc
    close = _closer(api, response)

    def expire() -> None:
        timed_out.set()
        close()

    timer = threading.Timer(max(1.0, timeout_s), expire)
    timer.daemon = True
    register(close)
    timer.start()
    on_sent()
    try:
        for chunk in api._stream_helper(response, decode=True):
            if chunk.get("id") == "moby.buildkit.trace":
                with contextlib.suppress(Malformed):
                    text.add(printer.feed(decode(str(chunk.get("aux", "")))))
            elif chunk.get("id") == "moby.image.id" and isinstance(chunk.get("aux"), dict):
                image_id = str(chunk["aux"].get("ID") or "") or None
            elif "error" in chunk:
                error = str(chunk["error"]).strip()
            elif "stream" in chunk:
                text.add(str(chunk["stream"]))
    except (*TRANSIENT, *READ_TIMEOUTS, OSError, ValueError) as exc:
        if not timed_out.is_set() and not isinstance(exc, READ_TIMEOUTS):
            release(exc)
            raise EngineError(f"build: {type(exc).__name__}: {exc}") from exc
        timed_out.set()
    finally:
        timer.cancel()
        register(None)
        close()
    if timed_out.is_set():
        raise BuildTimedOut(timeout_s, text.text())
    if error is not None:
        failed = printer.failed[-1] if printer.failed else None
        text.add(f"------\n > {failed}:\n------\n" if failed else "")
        text.add(f"ERROR: {error}\n")
        return None, error
    if image_id is None:
        raise EngineError("build: BuildKit produced no image id")
    return image_id, None


def available(api: Any) -> bool:
    """True when the engine builds with BuildKit by default (``/_ping``'s Builder-Version),
    on Linux (a Windows engine has no BuildKit)."""
    try:
        response = api._get(api._url("/_ping"))
        response.raise_for_status()
    except (*TRANSIENT, OSError) as exc:
        release(exc)
        return False
    return buildkit_by_default(response.headers)  # a case-insensitive mapping

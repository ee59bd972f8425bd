"""BuildKit builds under a cgroup parent without the CLI: BuildKit's own gRPC API in the engine.

``POST /build?version=2`` takes no cgroup parent (Engine 26), the ``docker buildx`` CLI costs a
Go process per build. This is what that CLI does with the engine's builder, in Python: the
engine's ``/grpc`` endpoint upgraded to HTTP/2 (h2c, the ``h2`` library), a
``moby.buildkit.v1.Control/Solve`` of the Dockerfile frontend with the frontend attributes the
CLI would give (``filename``, ``target``, ``label:*``, ``cgroup-parent``) and the ``moby``
exporter (the image lands in the engine's store, as ``--load``), and ``Control/Status``
streaming BuildKit's progress (``grader.engine.buildtrace``). The context is the tar the API
route sends (``grader.engine.buildapi``), served once to the engine over HTTP on 127.0.0.1
under an unguessable path (BuildKit fetches an http:// context itself): so only for an engine
on this machine, in this machine's network (the only case where a cgroup parent is given).
Closing the connection cancels the build in the engine.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from grader.engine.buildtrace import Malformed, PlainLog, fields, status_of
from grader.errors import BuildTimedOut, EngineError
from grader.facts.logcap import CappedText
from grader.labels import LABEL_SUBMISSION, image_labels

CONTROL = "/moby.buildkit.v1.Control"
SESSION_MOUNT = re.compile(rb"--mount=\S*\btype=(secret|ssh)\b", re.IGNORECASE)
"""A RUN mount BuildKit serves from the client's session."""
EXTENDED = (b"x", b"g", b"L", b"K")
"""Tar entry types BuildKit's context sniffing cannot read first (it reads 1 kB): PAX and GNU
long-name headers. A context whose first entry needs one is sent gzipped instead."""
SPOOL_BYTES = 8_000_000
_bodies: dict[str, tuple[IO[bytes], threading.Lock, Callable[[], None]]] = {}
_server: Any = None
_server_lock = threading.Lock()


def buildkit_by_default(headers: Mapping[str, str]) -> bool:
    """True when ``/_ping``'s headers (keys lower-case, or a case-insensitive mapping) say the
    engine builds with BuildKit by default, on Linux (a Windows engine has no BuildKit)."""
    return headers.get("builder-version") == "2" and headers.get("ostype") == "linux"


def needs_session(dockerfile: Path) -> bool:
    """True when the Dockerfile mounts a secret or an ssh agent (the CLI's session serves
    them; through the API the build would fail with ``no active sessions``)."""
    try:
        return SESSION_MOUNT.search(dockerfile.read_bytes()) is not None
    except OSError:
        return False


def _field(number: int, data: bytes) -> bytes:
    """One length-delimited protobuf field (pure)."""
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _text(number: int, text: str) -> bytes:
    return _field(number, text.encode("utf-8"))


def solve_request(ref: str, attrs: Mapping[str, str]) -> bytes:
    """A ``SolveRequest`` of the Dockerfile frontend with the ``moby`` exporter, ``Internal``
    (pure): kept out of BuildKit's build history, whose record (its trace exported) took the
    engine 0.15-0.4 s after each build, a cached one included, before it answered."""
    entries = b"".join(_field(7, _text(1, k) + _text(2, v)) for k, v in attrs.items())
    internal = _varint(11 << 3) + _varint(1)
    return _text(1, ref) + _text(3, "moby") + _text(6, "dockerfile.v0") + entries + internal


def frontend_attrs(
    url: str,
    dockerfile: str,
    labels: Mapping[str, str],
    target: str | None,
    cgroup_parent: str | None,
    add_host: str | None = None,
) -> dict[str, str]:
    """What ``docker buildx build`` gives the Dockerfile frontend for the same build (pure)."""
    own = {LABEL_SUBMISSION: labels[LABEL_SUBMISSION]} if LABEL_SUBMISSION in labels else {}
    attrs = {"context": url, "filename": dockerfile, "image-resolve-mode": "default"}
    attrs.update({f"label:{k}": v for k, v in {**image_labels(labels), **own}.items()})
    if target:
        attrs["target"] = target
    if cgroup_parent:
        attrs["cgroup-parent"] = cgroup_parent
    if add_host:  # the CLI's --add-host name:address, as the frontend reads it: name=address
        name, _, address = add_host.partition(":")
        attrs["add-hosts"] = f"{name}={address}"
    return attrs


def _start_server() -> Any:
    """The HTTP server of this process's contexts, started (``http.server``: loaded now)."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        """Serves a registered context, while its build runs, to whoever knows its path (the
        engine); one request at a time per context (they share the file's position)."""

        def do_GET(self) -> None:
            with _server_lock:
                served = _bodies.get(self.path.lstrip("/"))
            if served is None:
                self.send_error(404)
                return
            body, lock, on_read = served
            with lock, contextlib.suppress(OSError, ValueError):  # closed: the build was cancelled
                body.seek(0, 2)
                self.send_response(200)
                self.send_header("Content-Length", str(body.tell()))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                body.seek(0)
                shutil.copyfileobj(body, self.wfile)
                self.wfile.flush()
                on_read()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the engine's requests are no news."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextlib.contextmanager
def served(body: IO[bytes], on_read: Callable[[], None] = lambda: None) -> Iterator[str]:
    """The URL the engine fetches ``body`` from, while the block runs; ``on_read`` is called
    each time the engine has read all of it."""
    global _server
    # secrets' own source, without loading it (2 ms less before the build is sent)
    token = os.urandom(24).hex()
    with _server_lock:
        if _server is None:
            _server = _start_server()
        _bodies[token] = (body, threading.Lock(), on_read)
        port = _server.server_address[1]
    try:
        yield f"http://127.0.0.1:{port}/{token}"
    finally:
        with _server_lock:
            _bodies.pop(token, None)


def _connect(socket_path: str, timeout_s: float) -> tuple[socket.socket, bytes]:
    """A connection to the engine's ``/grpc`` upgraded to h2c; the bytes read past the answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(socket_path)
        sock.sendall(
            b"POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                raise OSError("the engine closed the connection")
            answer += chunk
        head, rest = answer.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise OSError(head.split(b"\r\n", 1)[0].decode("latin-1"))
        return sock, rest
    except BaseException:
        sock.close()
        raise


def grpc_build(
    socket_path: str,
    body: IO[bytes],
    dockerfile: str,
    labels: Mapping[str, str],
    timeout_s: float,
    text: CappedText,
    on_sent: Callable[[], None],
    target: str | None,
    cgroup_parent: str | None,
    register: Callable[[Callable[[], None] | None], None],
    add_host: str | None = None,
    on_read: Callable[[], None] = lambda: None,
) -> tuple[str | None, str | None]:
    """Build through BuildKit's gRPC API; the image id and the builder's error (one None).
    ``register`` is given a function that cancels the build (from any thread), then None;
    ``on_read`` is called once the engine has read the context.

    Raises:
        BuildTimedOut: the build did not finish within ``timeout_s`` (it is cancelled).
        EngineError: the engine could not be reached or gave no image.
    """
    import h2.config  # loaded with the first build, not with the grader
    import h2.connection
    import h2.events

    deadline = time.monotonic() + timeout_s
    try:
        sock, pending = _connect(socket_path, min(timeout_s, 30.0))
    except OSError as exc:
        raise EngineError(f"build: BuildKit's API: {exc}") from exc
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()

    def call(method: str, message: bytes) -> int:
        stream = int(conn.get_next_available_stream_id())
        conn.send_headers(stream, [
            (":method", "POST"), (":scheme", "http"), (":path", f"{CONTROL}/{method}"),
            (":authority", "docker"), ("content-type", "application/grpc"), ("te", "trailers"),
        ])  # fmt: skip
        conn.send_data(stream, b"\0" + struct.pack(">I", len(message)) + message, end_stream=True)
        return stream

    def cancel() -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    ref = os.urandom(13).hex()
    calls = _Calls(PlainLog(), text)
    register(cancel)
    try:
        with served(body, on_read) as url:
            attrs = frontend_attrs(url, dockerfile, labels, target, cgroup_parent, add_host)
            calls.solve = call("Solve", solve_request(ref, attrs))
            calls.status = call("Status", _text(1, ref))
            sock.sendall(conn.data_to_send())
            on_sent()
            while not calls.solved:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                data, pending = pending or sock.recv(65536), b""
                if not data:
                    raise EngineError("build: the engine closed BuildKit's connection")
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    calls.take(event)
                sock.sendall(conn.data_to_send())
    except TimeoutError:
        raise BuildTimedOut(timeout_s, text.text()) from None
    except OSError as exc:
        raise EngineError(f"build: BuildKit's API: {exc}") from exc
    finally:
        register(None)
        sock.close()
    printer, exported, trailers = calls.printer, calls.exported, calls.trailers
    code = trailers.get("grpc-status", "")
    if code != "0":
        error = unquote(trailers.get("grpc-message", "")) or f"BuildKit gRPC status {code or '?'}"
        if not printer.seen:  # nothing started: the engine's fault, not the Dockerfile's
            raise EngineError(f"build: {error}")
        failed = printer.failed[-1] if printer.failed else None
        text.add(f"------\n > {failed}:\n------\n" if failed else "")
        text.add(f"ERROR: {error}\n")
        return None, error
    image_id = exported.get("containerimage.config.digest")
    if not image_id:
        raise EngineError("build: BuildKit produced no image id")
    return image_id, None


class _Calls:
    """The two calls' answers as HTTP/2 events come: the progress written to ``text``, the
    exporter's response and the Solve's trailers (its gRPC status)."""

    def __init__(self, printer: PlainLog, text: CappedText) -> None:
        self.printer, self.text = printer, text
        self.solve = self.status = -1
        self.buffers: dict[int, bytes] = {}
        self.exported: dict[str, str] = {}
        self.trailers: dict[str, str] = {}
        self.solved = False

    def take(self, event: Any) -> None:
        """Note one ``h2`` event."""
        import h2.events

        if isinstance(event, h2.events.DataReceived) and event.data:
            stream = event.stream_id
            messages, self.buffers[stream] = _messages(self.buffers.get(stream, b"") + event.data)
            for message in messages:
                if stream == self.status:
                    with contextlib.suppress(Malformed):
                        self.text.add(self.printer.feed(status_of(message)))
                elif stream == self.solve:
                    self.exported.update(_exporter_response(message))
        elif isinstance(event, (h2.events.TrailersReceived, h2.events.ResponseReceived)):
            if event.stream_id == self.solve:
                self.trailers.update({_str(k): _str(v) for k, v in event.headers})
        elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
            self.solved = self.solved or event.stream_id == self.solve
        elif isinstance(event, h2.events.ConnectionTerminated):
            raise EngineError("build: the engine ended BuildKit's connection")


def _str(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _messages(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The whole gRPC messages at the start of ``buffer``, and what is left (pure)."""
    found = []
    while len(buffer) >= 5:
        size = struct.unpack(">I", buffer[1:5])[0]
        if len(buffer) < 5 + size:
            break
        found.append(buffer[5 : 5 + size])
        buffer = buffer[5 + size :]
    return found, buffer


def _exporter_response(message: bytes) -> dict[str, str]:
    """A ``SolveResponse``'s ``ExporterResponse`` map (pure)."""
    found = {}
    for number, _, entry in fields(message):
        if number == 1 and isinstance(entry, bytes):
            pair = {n: v for n, _, v in fields(entry) if isinstance(v, bytes)}
            found[pair.get(1, b"").decode()] = pair.get(2, b"").decode()
    return found

"""BuildKit's progress through the Engine API: its protobuf status, written as the plain log.

``POST /build?version=2`` streams BuildKit's ``StatusResponse`` messages, base64 in the
``aux`` of messages whose id is ``moby.buildkit.trace``. Only the fields the plain log shows
are read (a protobuf wire decoder for them, no schema): each vertex's name, cached, started,
completed and error, and the logs of its processes. ``PlainLog`` writes them the way BuildKit's
own plain printer does (``#5 [2/4] RUN pip install ...``, ``#5 0.412 Collecting``,
``#5 DONE 3.1s``, ``#5 CACHED``, ``#5 ERROR: ...``), which ``grader.stages.buildkit_log`` reads.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field

WireField = tuple[int, int, int | bytes]
"""A protobuf field: number, wire type, value (an integer or the bytes of a length)."""


class Malformed(ValueError):
    """The bytes are not the protobuf message expected."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise Malformed("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def fields(data: bytes) -> Iterator[WireField]:
    """The fields of one protobuf message, in order (pure)."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            yield number, wire, value
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise Malformed("truncated field")
            yield number, wire, data[at : at + size]
            at += size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            yield number, wire, data[at : at + size]
            at += size
        else:
            raise Malformed(f"wire type {wire}")


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _time(value: int | bytes) -> float:
    """A ``google.protobuf.Timestamp`` in seconds."""
    seconds = nanos = 0
    if isinstance(value, bytes):
        for number, _, part in fields(value):
            if isinstance(part, int):
                seconds, nanos = (part, nanos) if number == 1 else (seconds, part)
    return seconds + nanos / 1e9


@dataclass(frozen=True)
class Vertex:
    """A BuildKit vertex as one status message tells it."""

    digest: str
    name: str = ""
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str = ""


@dataclass(frozen=True)
class VertexLog:
    """Output of a vertex's process."""

    vertex: str
    at: float
    data: bytes


@dataclass(frozen=True)
class Status:
    """One ``StatusResponse``: the vertexes it updates and the logs it carries."""

    vertexes: tuple[Vertex, ...] = ()
    logs: tuple[VertexLog, ...] = ()


def _vertex(data: bytes) -> Vertex:
    found: dict[str, object] = {}
    for number, _, value in fields(data):
        if number == 1:
            found["digest"] = _text(value)
        elif number == 3:
            found["name"] = _text(value)
        elif number == 4:
            found["cached"] = bool(value)
        elif number == 5:
            found["started"] = _time(value)
        elif number == 6:
            found["completed"] = _time(value)
        elif number == 7:
            found["error"] = _text(value)
    return Vertex(**found)  # type: ignore[arg-type]


def _log(data: bytes) -> VertexLog:
    vertex, at, msg = "", 0.0, b""
    for number, _, value in fields(data):
        if number == 1:
            vertex = _text(value)
        elif number == 2:
            at = _time(value)
        elif number == 4 and isinstance(value, bytes):
            msg = value
    return VertexLog(vertex, at, msg)


def status_of(data: bytes) -> Status:
    """The ``StatusResponse`` in ``data`` (pure).

    Raises:
        Malformed: not a protobuf message.
    """
    vertexes, logs = [], []
    for number, _, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            vertexes.append(_vertex(value))
        elif number == 3 and isinstance(value, bytes):
            logs.append(_log(value))
    return Status(tuple(vertexes), tuple(logs))


def decode(aux: str) -> Status:
    """The status in a trace message's ``aux`` (pure).

    Raises:
        Malformed: not base64 of a ``StatusResponse``.
    """
    try:
        data = base64.b64decode(aux, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Malformed(str(exc)) from exc
    return status_of(data)


@dataclass
class _Seen:
    index: int
    started: float | None = None
    done: bool = False
    partial: bytes = b""


@dataclass
class PlainLog:
    """Writes statuses as BuildKit's plain progress: ``feed`` returns the new text."""

    seen: dict[str, _Seen] = field(default_factory=dict)
    current: str | None = None
    failed: list[str] = field(default_factory=list)
    """The names of the vertexes that failed, in order."""
    wrote: bool = False

    def _header(self, vertex: Vertex, out: list[str]) -> _Seen:
        seen = self.seen.get(vertex.digest)
        if seen is None:
            seen = self.seen[vertex.digest] = _Seen(len(self.seen) + 1)
            out.append(f"\n#{seen.index} {vertex.name}\n")
            self.current = vertex.digest
        elif self.current != vertex.digest:
            out.append(f"\n#{seen.index} {vertex.name}\n")
            self.current = vertex.digest
        return seen

    def feed(self, status: Status) -> str:
        """The plain text ``status`` adds to the log."""
        out: list[str] = []
        names = {v.digest: v for v in status.vertexes}
        for log in status.logs:
            seen = self.seen.get(log.vertex)
            if seen is None or seen.done:
                continue
            if self.current != log.vertex:
                out.append(f"\n#{seen.index} ...\n")
                self.current = log.vertex
            seen.partial += log.data
            *lines, seen.partial = seen.partial.split(b"\n")
            since = log.at - seen.started if seen.started is not None else 0.0
            for line in lines:
                out.append(f"#{seen.index} {since:.3f} {line.decode('utf-8', 'replace')}\n")
        for vertex in names.values():
            if not vertex.name:
                continue
            known = self.seen.get(vertex.digest)
            if known is not None and known.done:
                continue
            if vertex.started is None and vertex.completed is None and not vertex.cached:
                continue  # pending: BuildKit's printer shows a step once it starts
            seen = self._header(vertex, out)
            if vertex.started is not None and seen.started is None:
                seen.started = vertex.started
            if vertex.completed is None and not vertex.cached:
                continue
            if seen.partial:
                out.append(f"#{seen.index} {seen.partial.decode('utf-8', 'replace')}\n")
                seen.partial = b""
            seen.done = True
            if vertex.error:
                if vertex.error.endswith("context canceled"):
                    out.append(f"#{seen.index} CANCELED\n")
                else:
                    out.append(f"#{seen.index} ERROR: {vertex.error}\n")
                    self.failed.append(vertex.name)
            elif vertex.cached:
                out.append(f"#{seen.index} CACHED\n")
            else:
                took = (vertex.completed or 0.0) - (vertex.started or vertex.completed or 0.0)
                out.append(f"#{seen.index} DONE {max(took, 0.0):.1f}s\n")
        text = "".join(out)
        if text and not self.wrote:
            self.wrote = True
            return text.removeprefix("\n")
        return text

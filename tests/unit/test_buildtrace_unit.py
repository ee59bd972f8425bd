"""BuildKit's protobuf status read without a schema and written as the CLI's plain log; the
gRPC Solve request and its framing."""

from __future__ import annotations

import base64
import io
import struct
import urllib.error
import urllib.request

import pytest

from grader.engine.buildgrpc import (
    _exporter_response,
    _messages,
    frontend_attrs,
    served,
    solve_request,
)
from grader.engine.buildtrace import (
    Malformed,
    PlainLog,
    Status,
    Vertex,
    VertexLog,
    decode,
    fields,
)
from grader.labels import LABEL, LABEL_SUBMISSION
from grader.stages import buildkit_log

# Real ``moby.buildkit.trace`` messages of Engine 26.1 (POST /build?version=2): one vertex
# announced, started, then completed.
ANNOUNCED = (
    "Cm8KR3NoYTI1Njo2OTY4ZTkyZjcyZTZmN2UzMzgzYjlkMjdlNjg3ZjNlMjU4ZDdkNjY4ODY3YmI4NWUzNmVk"
    "YWM1M2VmZDQwMWQ2GiRbaW50ZXJuYWxdIGxvYWQgcmVtb3RlIGJ1aWxkIGNvbnRleHQ="
)
COMPLETED = (
    "Co0BCkdzaGEyNTY6Njk2OGU5MmY3MmU2ZjdlMzM4M2I5ZDI3ZTY4N2YzZTI1OGQ3ZDY2ODg2N2JiODVlMzZl"
    "ZGFjNTNlZmQ0MDFkNhokW2ludGVybmFsXSBsb2FkIHJlbW90ZSBidWlsZCBjb250ZXh0IAEqDAjHur/YBhDC"
    "7qrLAzIMCMe6v9gGEP7pq8sD"
)


def test_real_trace_messages_decode() -> None:
    announced = decode(ANNOUNCED).vertexes[0]
    assert announced.name == "[internal] load remote build context"
    assert announced.digest.startswith("sha256:6968e92f")
    assert announced.started is None and announced.completed is None
    done = decode(COMPLETED).vertexes[0]
    assert done.cached and done.started is not None and done.completed is not None
    assert 0 <= done.completed - done.started < 0.01
    assert PlainLog().feed(decode(COMPLETED)) == (
        "#1 [internal] load remote build context\n#1 CACHED\n"
    )


def test_not_a_status_is_malformed() -> None:
    with pytest.raises(Malformed):
        decode("not base64!")
    with pytest.raises(Malformed):
        decode(base64.b64encode(b"\x0a\xff\x01").decode())  # a length past the end


def test_the_plain_log_reads_as_the_cli_s() -> None:
    printer = PlainLog()
    base = Vertex("a", "[1/3] FROM docker.io/library/python:3.11-slim", False, 10.0, 10.0)
    cached = Vertex("b", "[2/3] COPY app.py .", True, 10.0, 10.0)
    run = Vertex("c", "[3/3] RUN pip install flask", False, 10.0)
    text = printer.feed(Status((base, cached, run)))
    text += printer.feed(Status(logs=(VertexLog("c", 10.5, b"Collecting flask\nDone"),)))
    text += printer.feed(Status((Vertex("c", run.name, False, 10.0, 13.04, "exit code: 1"),)))
    steps = buildkit_log.steps(text)
    assert [(s.number, s.text, s.cached) for s in steps] == [
        (1, "FROM docker.io/library/python:3.11-slim", False),
        (2, "COPY app.py .", True),
        (3, "RUN pip install flask", False),
    ]
    assert "#3 0.500 Collecting flask\n#3 Done\n#3 ERROR: exit code: 1\n" in text
    assert printer.failed == ["[3/3] RUN pip install flask"]
    assert steps[0].seconds == 0.0 and steps[1].seconds == 0.0


def test_the_solve_request_is_what_the_cli_asks() -> None:
    labels = {LABEL: "run@host:1", LABEL_SUBMISSION: "ana", "other": "x"}
    attrs = frontend_attrs("http://127.0.0.1:9/t", "Dockerfile", labels, "build", "/g/b1")
    assert attrs == {
        "context": "http://127.0.0.1:9/t",
        "filename": "Dockerfile",
        "image-resolve-mode": "default",
        f"label:{LABEL}": "run@host:1",
        f"label:{LABEL_SUBMISSION}": "ana",
        "target": "build",
        "cgroup-parent": "/g/b1",
    }
    request = list(fields(solve_request("ref1", {"a": "1", "b": "2"})))
    assert [(n, v) for n, _, v in request[:3]] == [
        (1, b"ref1"),
        (3, b"moby"),
        (6, b"dockerfile.v0"),
    ]
    entries = [entry for n, _, entry in request if n == 7 and isinstance(entry, bytes)]
    pairs = [{k: v for k, _, v in fields(entry)} for entry in entries]
    assert pairs == [{1: b"a", 2: b"1"}, {1: b"b", 2: b"2"}]
    assert request[-1] == (11, 0, 1)  # Internal: no build history record to wait for


def test_grpc_messages_are_cut_at_their_length() -> None:
    response = b"\x0a\x0b\x0a\x01k\x12\x06sha256"  # ExporterResponse {"k": "sha256"}
    framed = b"\0" + struct.pack(">I", len(response)) + response
    found, rest = _messages(framed + framed[:3])
    assert found == [response] and rest == framed[:3]
    assert _exporter_response(found[0]) == {"k": "sha256"}


def test_a_context_is_served_while_its_build_runs_and_then_never() -> None:
    body = io.BytesIO(b"the context tar")
    with served(body) as url:
        assert url.startswith("http://127.0.0.1:")
        for _ in range(2):  # BuildKit may ask again
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert answer.read() == b"the context tar"
        wrong = url.rsplit("/", 1)[0] + "/guessed"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(wrong, timeout=10)
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=10)

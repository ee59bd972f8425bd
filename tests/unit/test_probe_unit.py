"""grader/stages/probe.py against a real HTTP server on 127.0.0.1 (port 0, in a thread)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from grader.errors import ProbeFailed
from grader.stages import probe


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/":
            self._send(200, "Hello Docker! é".encode(), "text/html; charset=utf-8")
        elif self.path == "/redirect":
            self._send(302, b"", "text/plain", Location="/")
        elif self.path == "/big":
            self._send(200, b"x" * 100_000, "text/plain; charset=utf-8")
        elif self.path == "/slow":
            time.sleep(1.0)
            self._send(200, b"late", "text/plain")
        elif self.path == "/drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._send(404, b"Not Found", "text/plain")


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_ok_page(server: str) -> None:
    result = probe.get(server + "/", 2.0)
    assert result.url == server + "/"
    assert result.status == 200
    assert result.body == "Hello Docker! é"
    assert result.headers["Content-Type"] == "text/html; charset=utf-8"
    assert 0 <= result.elapsed_s < 2.0


def test_not_found_is_a_response_not_a_failure(server: str) -> None:
    result = probe.get(server + "/missing", 2.0)
    assert result.status == 404
    assert result.body == "Not Found"


def test_redirects_are_not_followed(server: str) -> None:
    result = probe.get(server + "/redirect", 2.0)
    assert result.status == 302
    assert result.headers["Location"] == "/"


def test_body_is_bounded(server: str) -> None:
    result = probe.get(server + "/big", 2.0)
    assert result.body == "x" * probe.BODY_LIMIT


def test_timeout(server: str) -> None:
    with pytest.raises(ProbeFailed) as info:
        probe.get(server + "/slow", 0.2)
    assert info.value.cause == "timeout"
    assert info.value.url == server + "/slow"


def test_connection_closed_without_answer_is_reset(server: str) -> None:
    with pytest.raises(ProbeFailed) as info:
        probe.get(server + "/drop", 2.0)
    assert info.value.cause == "reset"


def test_nothing_listening_is_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProbeFailed) as info:
        probe.get(f"http://127.0.0.1:{port}/", 2.0)
    assert info.value.cause == "refused"
    assert str(info.value) == f"GET http://127.0.0.1:{port}/: refused"


def test_bad_url_is_an_error() -> None:
    with pytest.raises(ProbeFailed) as info:
        probe.get("nothttp://127.0.0.1/", 1.0)
    assert info.value.cause == "error"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/plain", "utf-8"),
        ("text/html; charset=ISO-8859-1", "iso8859-1"),
        ('text/html; charset="utf-8"', "utf-8"),
        ("text/html; charset=no-such-codec", "utf-8"),
        ("", "utf-8"),
    ],
)
def test_charset_is_the_declared_one_else_utf8(content_type: str, expected: str) -> None:
    assert probe._charset({"Content-Type": content_type}) == expected


def test_knocking_connects_again_and_again_until_the_block_ends() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        server.settimeout(0.05)
        port = server.getsockname()[1]
        accepted: list[float] = []
        with probe.knocking("127.0.0.1", port, interval_s=0.01):
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                conn.close()
                accepted.append(time.monotonic())
        assert len(accepted) >= 5  # about one every 10 ms, from the first moment
        assert accepted[0] - (deadline - 0.3) < 0.1
        server.settimeout(0.1)  # and none once the block has ended
        time.sleep(0.05)
        with contextlib.suppress(TimeoutError):
            while True:  # drain what was queued before the end
                server.accept()[0].close()
        time.sleep(0.05)
        with pytest.raises(TimeoutError):
            server.accept()


def test_knocking_on_a_closed_port_or_none_is_harmless() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # closed again when the block ends: refused
    started = time.monotonic()
    with probe.knocking("127.0.0.1", port, interval_s=0.01):
        time.sleep(0.05)
    with probe.knocking("127.0.0.1", None):
        pass
    assert time.monotonic() - started < 1.0

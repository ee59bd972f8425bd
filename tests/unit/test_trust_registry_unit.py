"""The instructor's registry credentials go only where they are meant to (issue 15).

Real HTTP servers on 127.0.0.1 play a student's registry and its token services.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from grader.errors import RegistryUnreachable
from grader.stages import registry
from grader.stages.registry import parse_reference
from grader.stages.registry_trust import HUB, credentials_for, may_follow


@dataclass
class Server:
    """One local server: a registry that answers 401 naming ``realm``, and a token service."""

    port: int
    realm: str = ""
    token_status: int = 200
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def tokens(self) -> list[dict[str, str]]:
        return [headers for method, _, headers in self.seen if method == "GET"]


class _HTTP(ThreadingHTTPServer):
    state: Server


class _Handler(BaseHTTPRequestHandler):
    server: _HTTP

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        state = self.server.state
        state.seen.append(("HEAD", self.path, dict(self.headers.items())))
        if self.headers.get("Authorization") == "Bearer t0k3n":
            self._answer(200)
        else:
            challenge = f'Bearer realm="{state.realm}",service="s",scope="repository:a/b:pull"'
            self._answer(401, WWW_Authenticate=challenge)

    def do_GET(self) -> None:
        state = self.server.state
        state.seen.append(("GET", self.path, dict(self.headers.items())))
        self._answer(state.token_status, b'{"token": "t0k3n"}', Content_Type="application/json")


@pytest.fixture
def servers() -> Iterator[Callable[[], Server]]:
    started: list[tuple[_HTTP, threading.Thread]] = []

    def start() -> Server:
        httpd = _HTTP(("127.0.0.1", 0), _Handler)
        httpd.state = Server(httpd.server_address[1])
        httpd.state.realm = f"http://{httpd.state.netloc}/token"
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        started.append((httpd, thread))
        return httpd.state

    yield start
    for httpd, thread in started:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    registry._SESSION.close()


@pytest.fixture(autouse=True)
def instructor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The instructor's Docker Hub credentials are set, as for private repositories."""
    monkeypatch.setenv("GRADER_REGISTRY_USER", "teacher")
    monkeypatch.setenv("GRADER_REGISTRY_PASSWORD", "hunter2")
    monkeypatch.delenv("GRADER_REGISTRY_HOST", raising=False)


def test_a_students_registry_never_receives_the_credentials(
    servers: Callable[[], Server],
) -> None:
    student = servers()  # 401 with a realm on its own server, over http
    ref = parse_reference(f"{student.netloc}/alice/tp6bis:1.0")
    assert registry.manifest_status(ref, timeout_s=5) == 200  # anonymous token: still graded
    (token,) = student.tokens()
    assert "Authorization" not in token


def test_credentials_never_travel_in_clear_even_to_their_registry(
    servers: Callable[[], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = servers()
    monkeypatch.setenv("GRADER_REGISTRY_HOST", configured.netloc)
    registry.manifest_status(parse_reference(f"{configured.netloc}/a/b:1"), timeout_s=5)
    (token,) = configured.tokens()
    assert "Authorization" not in token


def test_a_realm_on_another_private_server_is_never_followed(
    servers: Callable[[], Server],
) -> None:
    student, inside = servers(), servers()  # inside: a service on the grading host
    student.realm = f"http://{inside.netloc}/admin/delete?all=1"
    ref = parse_reference(f"{student.netloc}/alice/tp6bis:1.0")
    assert registry.manifest_status(ref, timeout_s=5) == 401
    assert inside.seen == []
    for realm in ("http://169.254.169.254/latest", "http://10.1.2.3/t", "http://[::1]:80/t",
                  "file:///etc/passwd", "http://localhost:1/t"):  # fmt: skip
        assert not may_follow("registry.example.com", realm), realm


def test_credentials_go_to_their_registrys_https_token_service_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert credentials_for(HUB, "https://auth.docker.io/token") == ("teacher", "hunter2")
    assert credentials_for(HUB, "http://auth.docker.io/token") is None
    assert credentials_for("ghcr.io", "https://ghcr.io/token") is None
    monkeypatch.setenv("GRADER_REGISTRY_HOST", "ghcr.io")
    assert credentials_for("ghcr.io", "https://ghcr.io/token") == ("teacher", "hunter2")
    assert credentials_for(HUB, "https://auth.docker.io/token") is None
    monkeypatch.setenv("GRADER_REGISTRY_HOST", "docker.io")  # Docker Hub by another name
    assert credentials_for(HUB, "https://auth.docker.io/token") == ("teacher", "hunter2")


def test_what_a_student_reads_names_no_address(servers: Callable[[], Server]) -> None:
    student = servers()
    student.token_status = 503
    with pytest.raises(RegistryUnreachable) as info:
        registry.manifest_status(parse_reference(f"{student.netloc}/a/b:1"), timeout_s=5)
    assert info.value.detail == "its token service answered HTTP 503"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(RegistryUnreachable) as info:
        registry.manifest_status(parse_reference(f"127.0.0.1:{closed}/a/b:1"), timeout_s=5)
    assert info.value.detail == "the connection failed"

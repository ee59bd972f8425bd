"""grader/stages/registry.py: reference parsing, and manifest_status against a real HTTP registry.

The registry is a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0, in a thread); loopback
registries are spoken to over plain HTTP, so ``127.0.0.1:PORT/...`` references reach it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from grader.errors import RegistryUnreachable
from grader.stages import registry
from grader.stages.registry import HUB, Reference, parse_reference

TOKEN = "abc"
SERVICE = "registry.test"
SCOPE = "repository:camille/tp6bis:pull"
DIGEST = "sha256:" + "ab" * 32

# ---------------------------------------------------------------------------
# parse_reference / Reference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "registry_", "repository", "tag"),
    [
        ("user/repo:tag", HUB, "user/repo", "tag"),
        ("repo", HUB, "library/repo", "latest"),
        ("repo:3.11-slim", HUB, "library/repo", "3.11-slim"),
        ("docker.io/user/repo", HUB, "user/repo", "latest"),
        ("index.docker.io/user/repo:v2", HUB, "user/repo", "v2"),
        ("docker.io/library/nginx:1.25", HUB, "library/nginx", "1.25"),
        ("localhost:5000/a/b:1", "localhost:5000", "a/b", "1"),
        ("localhost/a", "localhost", "a", "latest"),
        ("127.0.0.1:5000/camille/tp6bis:1.0", "127.0.0.1:5000", "camille/tp6bis", "1.0"),
        (f"host.example:443/x/y@{DIGEST}", "host.example:443", "x/y", DIGEST),
        (f"ghcr.io/org/app:1.0@{DIGEST}", "ghcr.io", "org/app", DIGEST),
        ("  user/repo:tag\n", HUB, "user/repo", "tag"),
    ],
)
def test_parse_reference(text: str, registry_: str, repository: str, tag: str) -> None:
    assert parse_reference(text) == Reference(registry_, repository, tag)


def test_parse_reference_lowers_the_repository_but_not_the_tag() -> None:
    assert parse_reference("Camille/TP6bis:V1") == Reference(HUB, "camille/tp6bis", "V1")
    assert parse_reference("localhost:5000/Camille/App") == Reference(
        "localhost:5000", "camille/app", "latest"
    )


@pytest.mark.parametrize("text", ["docker.io/nginx", "index.docker.io/nginx"])
def test_parse_reference_docker_io_official_image(text: str) -> None:
    assert parse_reference(text) == Reference(HUB, "library/nginx", "latest")


@pytest.mark.parametrize(
    "text", ["", "   ", "a b", "user/repo: tag", "http://x/y", "https://host/a/b", "a//b", "a$b"]
)
def test_parse_reference_rejects_non_references(text: str) -> None:
    with pytest.raises(ValueError, match="is not an image reference"):
        parse_reference(text)


@pytest.mark.parametrize(
    ("text", "pull_name"),
    [
        ("user/repo:tag", "user/repo:tag"),
        ("repo", "library/repo:latest"),
        ("docker.io/user/repo", "user/repo:latest"),
        ("localhost:5000/a/b:1", "localhost:5000/a/b:1"),
        ("127.0.0.1:5000/camille/tp6bis:1.0", "127.0.0.1:5000/camille/tp6bis:1.0"),
        (f"host.example:443/x/y@{DIGEST}", f"host.example:443/x/y@{DIGEST}"),
        (f"user/repo@{DIGEST}", f"user/repo@{DIGEST}"),
    ],
)
def test_pull_name(text: str, pull_name: str) -> None:
    assert parse_reference(text).pull_name == pull_name


@pytest.mark.parametrize(
    ("registry_", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("[::1]:5000", True),
        (HUB, False),
        ("host.example:443", False),
        ("10.0.0.1:5000", False),
        ("localhost.example:5000", False),
    ],
)
def test_is_loopback(registry_: str, loopback: bool) -> None:
    assert Reference(registry_, "a/b", "latest").is_loopback is loopback


def test_is_loopback_ipv6_without_port() -> None:
    assert Reference("[::1]", "a/b", "latest").is_loopback


# ---------------------------------------------------------------------------
# manifest_status against a real local registry
# ---------------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FakeRegistry:
    """What the server serves, and every request it saw."""

    port: int
    manifests: set[str] = field(default_factory=set)
    """Existing ``/v2/<repo>/manifests/<tag>`` paths."""
    challenge: str | None = None
    """``WWW-Authenticate`` sent with 401 to a HEAD without ``Bearer <TOKEN>``; None: no auth."""
    token_status: int = 200
    token_body: dict[str, str] = field(default_factory=lambda: {"token": TOKEN})
    seen: list[Seen] = field(default_factory=list)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def bearer(self) -> None:
        """Answer like Docker Hub: 401 + a Bearer challenge naming our /token."""
        self.challenge = f'Bearer realm="{self.realm}",service="{SERVICE}",scope="{SCOPE}"'

    def ref(self, name: str) -> Reference:
        return parse_reference(f"127.0.0.1:{self.port}/{name}")

    def only(self, method: str, path: str | None = None) -> list[Seen]:
        return [s for s in self.seen if s.method == method and path in (None, s.path)]


class Server(ThreadingHTTPServer):
    fake: FakeRegistry


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _record(self) -> Seen:
        url = urlsplit(self.path)
        seen = Seen(self.command, url.path, parse_qs(url.query), dict(self.headers.items()))
        self.server.fake.seen.append(seen)
        return seen

    def _reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        fake, seen = self.server.fake, self._record()
        if fake.challenge and seen.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, WWW_Authenticate=fake.challenge)
        elif seen.path in fake.manifests:
            self._reply(
                200,
                Content_Type="application/vnd.docker.distribution.manifest.v2+json",
                Docker_Content_Digest=DIGEST,
            )
        else:
            self._reply(404)

    def do_GET(self) -> None:
        fake, seen = self.server.fake, self._record()
        if seen.path != "/token":
            self._reply(404)
            return
        body = json.dumps(fake.token_body).encode()
        self._reply(fake.token_status, body, Content_Type="application/json")


@pytest.fixture(autouse=True)
def _no_registry_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_REGISTRY_USER", raising=False)
    monkeypatch.delenv("GRADER_REGISTRY_PASSWORD", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.fake = FakeRegistry(port=httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd.fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        # Drop any pooled connection to the closed server rather than leave it to the GC.
        registry._SESSION.close()


def test_manifest_status_200_for_an_existing_manifest(fake: FakeRegistry) -> None:
    fake.manifests.add("/v2/camille/tp6bis/manifests/1.0")

    assert registry.manifest_status(fake.ref("camille/tp6bis:1.0"), timeout_s=5) == 200

    (head,) = fake.seen
    assert head.method == "HEAD"
    assert head.path == "/v2/camille/tp6bis/manifests/1.0"
    assert head.headers["Accept"] == registry.ACCEPT
    accepted = {media.strip() for media in head.headers["Accept"].split(",")}
    assert {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    } <= accepted
    assert "Authorization" not in head.headers


def test_manifest_status_404_for_a_missing_manifest(fake: FakeRegistry) -> None:
    fake.manifests.add("/v2/camille/tp6bis/manifests/1.0")

    assert registry.manifest_status(fake.ref("camille/tp6bis:2.0"), timeout_s=5) == 404

    (head,) = fake.seen
    assert (head.method, head.path) == ("HEAD", "/v2/camille/tp6bis/manifests/2.0")
    assert head.headers["Accept"] == registry.ACCEPT


def test_manifest_status_heads_a_digest(fake: FakeRegistry) -> None:
    fake.manifests.add(f"/v2/camille/tp6bis/manifests/{DIGEST}")

    assert registry.manifest_status(fake.ref(f"camille/tp6bis@{DIGEST}"), timeout_s=5) == 200
    assert [s.path for s in fake.seen] == [f"/v2/camille/tp6bis/manifests/{DIGEST}"]


@pytest.mark.parametrize("token_body", [{"token": TOKEN}, {"access_token": TOKEN}])
def test_manifest_status_fetches_an_anonymous_bearer_token(
    fake: FakeRegistry, token_body: dict[str, str]
) -> None:
    fake.bearer()
    fake.token_body = token_body
    fake.manifests.add("/v2/camille/tp6bis/manifests/1.0")

    assert registry.manifest_status(fake.ref("camille/tp6bis:1.0"), timeout_s=5) == 200

    assert [(s.method, s.path) for s in fake.seen] == [
        ("HEAD", "/v2/camille/tp6bis/manifests/1.0"),
        ("GET", "/token"),
        ("HEAD", "/v2/camille/tp6bis/manifests/1.0"),
    ]
    first, token, retry = fake.seen
    assert "Authorization" not in first.headers
    assert token.query == {"service": [SERVICE], "scope": [SCOPE]}
    assert "Authorization" not in token.headers  # anonymous: no credentials set
    assert retry.headers["Authorization"] == f"Bearer {TOKEN}"
    assert retry.headers["Accept"] == registry.ACCEPT


def test_manifest_status_404_behind_a_token(fake: FakeRegistry) -> None:
    fake.bearer()

    assert registry.manifest_status(fake.ref("camille/tp6bis:1.0"), timeout_s=5) == 404
    assert fake.only("HEAD")[-1].headers["Authorization"] == f"Bearer {TOKEN}"


def test_manifest_status_needs_both_user_and_password_for_basic_auth(
    fake: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_REGISTRY_USER", "camille")
    fake.bearer()

    registry.manifest_status(fake.ref("camille/tp6bis:1.0"), timeout_s=5)

    (token,) = fake.only("GET", "/token")
    assert "Authorization" not in token.headers


def test_manifest_status_401_without_a_challenge_is_returned(fake: FakeRegistry) -> None:
    fake.challenge = "Bearer"  # no realm: nothing to fetch a token from

    assert registry.manifest_status(fake.ref("camille/tp6bis:1.0"), timeout_s=5) == 401
    assert [s.method for s in fake.seen] == ["HEAD"]


def test_manifest_status_token_service_failure_is_unreachable(fake: FakeRegistry) -> None:
    fake.bearer()
    fake.token_status = 503

    with pytest.raises(RegistryUnreachable) as info:
        registry.manifest_status(fake.ref("camille/tp6bis:1.0"), timeout_s=5)
    assert info.value.registry == f"127.0.0.1:{fake.port}"
    assert "503" in info.value.detail


def test_manifest_status_basic_challenge_is_not_unreachable(fake: FakeRegistry) -> None:
    fake.challenge = 'Basic realm="Registry Realm"'

    assert registry.manifest_status(fake.ref("camille/tp6bis:1.0"), timeout_s=5) == 401


def test_manifest_status_closed_port_is_unreachable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens there now: the connection is refused.
    ref = parse_reference(f"127.0.0.1:{port}/camille/tp6bis:1.0")

    with pytest.raises(RegistryUnreachable) as info:
        registry.manifest_status(ref, timeout_s=2)
    assert info.value.registry == f"127.0.0.1:{port}"
    assert str(info.value) == f"registry 127.0.0.1:{port} does not answer"
    assert info.value.detail
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)


def test_a_dns_name_starting_with_127_is_not_loopback() -> None:
    assert not Reference("127.example.com", "a/b", "latest").is_loopback
    assert Reference("127.0.0.2:5000", "a/b", "latest").is_loopback


def test_any_digest_algorithm_pulls_by_digest() -> None:
    ref = parse_reference("x@sha512:" + "ab" * 64)
    assert ref.pull_name == "library/x@sha512:" + "ab" * 64

"""Whose fault a failed pull or build is (issue 16.3), on the engine's and tools' real words
(captured on this machine: no route to Docker Hub; builds run with --network none), and the
registry's 429/5xx answers from a real server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from grader.dockerfile.parse import parse_text
from grader.engine.builds import _pull_failure
from grader.engine.faults import base_image_trouble, package_index_unreachable, registry_trouble
from grader.errors import BuildFailed, NetworkUnavailable, PullFailed, RegistryUnreachable
from grader.grading.verdicts import error_cause
from grader.stages import registry
from grader.stages.build import build_failure
from grader.stages.registry import Reference

HUB_DNS = (
    'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on '
    "10.255.255.53:53: no such host"
)
RATE_LIMIT = (
    "toomanyrequests: You have reached your pull rate limit. You may increase the limit by "
    "authenticating and upgrading: https://www.docker.com/increase-rate-limit"
)
SERVER_ERROR = (
    'Head "https://registry-1.docker.io/v2/library/python/manifests/3.11-slim": received '
    "unexpected HTTP status: 503 Service Unavailable"
)
NOT_FOUND = "manifest for python:3.99 not found: manifest unknown: manifest unknown"
DENIED = (
    "pull access denied for pyhton, repository does not exist or may require 'docker login': "
    "denied: requested access to the resource is denied"
)
PIP_OFFLINE = """\
Step 2/2 : RUN pip install --timeout 2 flask
 ---> Running in ef7069ada074
WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection \
object at 0x7ff0252cc390>: Failed to establish a new connection: [Errno -3] Temporary failure \
in name resolution')': /simple/flask/
ERROR: Could not find a version that satisfies the requirement flask (from versions: none)
ERROR: No matching distribution found for flask
"""
NPM_OFFLINE = """\
Step 3/3 : RUN npm install
npm error code EAI_AGAIN
npm error syscall getaddrinfo
npm error errno EAI_AGAIN
npm error request to https://registry.npmjs.org/express failed, reason: getaddrinfo EAI_AGAIN \
registry.npmjs.org
"""
PIP_TYPO = """\
Step 5/9 : RUN pip install -r requirements.txt
ERROR: Could not find a version that satisfies the requirement flaks==3.0 (from versions: none)
ERROR: No matching distribution found for flaks==3.0
"""
NPM_TYPO = "Step 4/9 : RUN npm ci\nnpm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/expresss\n"
FACTS = parse_text("FROM python:3.11-slim\nRUN pip install flask\n", Path("Dockerfile"))


@pytest.mark.parametrize("message", [HUB_DNS, RATE_LIMIT, SERVER_ERROR])
def test_registry_trouble_is_the_machine_s(message: str) -> None:
    assert registry_trouble(message) and base_image_trouble(message)


@pytest.mark.parametrize("message", [NOT_FOUND, DENIED])
def test_an_absent_or_private_image_is_the_student_s(message: str) -> None:
    assert not registry_trouble(message)


def test_a_base_image_the_machine_cannot_pull_is_a_registry_error() -> None:
    failure = build_failure(HUB_DNS, "Step 1/2 : FROM python:3.11-slim\n" + HUB_DNS, FACTS)
    assert isinstance(failure, RegistryUnreachable)
    assert failure.registry == "registry-1.docker.io"
    assert error_cause(failure) == "registry"


@pytest.mark.parametrize("log", [PIP_OFFLINE, NPM_OFFLINE])
def test_pip_or_npm_without_network_is_the_machine_s(log: str) -> None:
    assert package_index_unreachable(log)
    failure = build_failure("The command returned a non-zero code: 1", log, FACTS)
    assert isinstance(failure, NetworkUnavailable)
    assert error_cause(failure) == "machine"


@pytest.mark.parametrize("log", [PIP_TYPO, NPM_TYPO])
def test_a_wrong_package_name_is_still_the_student_s_build_failure(log: str) -> None:
    assert not package_index_unreachable(log)
    failure = build_failure("The command returned a non-zero code: 1", log, FACTS)
    assert isinstance(failure, BuildFailed)
    failure = build_failure(NOT_FOUND, "Step 1/2 : FROM python:3.99\n" + NOT_FOUND, FACTS)
    assert isinstance(failure, BuildFailed)


# -- the registry's own answers ---------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.send_response(int(self.path.rsplit("/", 1)[-1]))
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
        registry._SESSION.close()


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_a_registry_answering_429_or_5xx_is_unreachable_not_the_student_s(
    server: str, status: int
) -> None:
    with pytest.raises(RegistryUnreachable) as raised:
        registry.manifest_status(Reference(server, "camille/app", str(status)), 5)
    assert str(status) in raised.value.detail


@pytest.mark.parametrize("status", [200, 404, 401])
def test_a_registry_s_real_answer_is_kept(server: str, status: int) -> None:
    assert registry.manifest_status(Reference(server, "camille/app", str(status)), 5) == status


def test_the_pull_carries_the_configured_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_REGISTRY_USER", raising=False)
    monkeypatch.delenv("GRADER_REGISTRY_PASSWORD", raising=False)
    monkeypatch.delenv("GRADER_REGISTRY_HOST", raising=False)
    assert registry.pull_auth("registry-1.docker.io") is None
    monkeypatch.setenv("GRADER_REGISTRY_USER", "camille")
    monkeypatch.setenv("GRADER_REGISTRY_PASSWORD", "s3cr3t")
    creds = {"username": "camille", "password": "s3cr3t"}
    assert registry.pull_auth("registry-1.docker.io") == creds  # Docker Hub by default
    assert registry.pull_auth("docker.io") == creds
    assert registry.pull_auth("127.0.0.1:5000") is None  # never a registry a student names
    monkeypatch.setenv("GRADER_REGISTRY_HOST", "127.0.0.1:5000")
    assert registry.pull_auth("127.0.0.1:5000") == creds
    assert registry.pull_auth("registry-1.docker.io") is None


def test_a_pull_refused_for_the_registry_s_reasons_is_not_the_student_s() -> None:
    trouble = _pull_failure("camille/tp6bis:1.0", RATE_LIMIT)
    assert isinstance(trouble, RegistryUnreachable)
    assert trouble.registry == "registry-1.docker.io"
    local = _pull_failure(
        "127.0.0.1:5000/camille/app:1",
        SERVER_ERROR.replace("registry-1.docker.io", "127.0.0.1:5000"),
    )
    assert isinstance(local, RegistryUnreachable) and local.registry == "127.0.0.1:5000"
    assert isinstance(_pull_failure("camille/tp6bis:1.0", DENIED), PullFailed)

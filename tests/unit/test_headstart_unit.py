"""grader/engine/headstart.py: when a build is sent ahead, that it is the request docker-py sends
(same query, headers and tar, byte for byte), and how its answer is read.

The engine here is a small unix-socket HTTP server that records what it is sent and answers
what a test tells it; the real engine's side is in tests/integration/test_headstart.py."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import docker
import docker.utils.build
import pytest

from grader.engine import (
    cgroups,
    headstart,
    sdk,  # noqa: F401  (docker-py then takes the build bounds)
)
from grader.engine.headstart import HeadStart, Refused
from grader.labels import image_labels, new_run_labels


class Recorder:
    """An HTTP/1.1 server on a unix socket: records each request, answers with ``reply``."""

    def __init__(self, path: Path, reply: bytes) -> None:
        self.path = str(path)
        self.reply = reply
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.hold = threading.Event()  # set: close the connection (a silent engine until then)
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(self.path)
        self._server.listen(4)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            while len(body) < int(headers.get("Content-Length", 0)):
                body += conn.recv(65536)
            self.requests.append((lines[0], headers, body))
            with contextlib.suppress(OSError):  # the client may have gone already
                conn.sendall(self.reply)
                self.hold.wait(10)

    def close(self) -> None:
        self.hold.set()
        self._server.close()


def chunked(*items: object, status: str = "200 OK") -> bytes:
    """An answer as the engine streams one: JSON lines in HTTP chunks."""
    out = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
    out += "Transfer-Encoding: chunked\r\n\r\n"
    for item in items:
        line = json.dumps(item) + "\r\n"
        out += f"{len(line.encode()):x}\r\n{line}\r\n"
    return (out + "0\r\n\r\n").encode()


@pytest.fixture(autouse=True)
def no_cgroup_left() -> Iterator[None]:
    """A build sent ahead makes a cgroup, removed by its adopter (the engine) or ``abandon``:
    these tests take builds themselves, so remove what is left."""
    yield
    assert cgroups.remove_own()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder with a short path (a unix socket path is at most 107 bytes)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hs-", dir="/tmp") as tmp:
        yield Path(tmp)


def submission(root: Path) -> Path:
    """A folder with what a context may hold: sub-folders, an empty one, an executable, links
    (to a file, to a folder, dangling), a hard link, a non-ASCII name."""
    root.mkdir()
    (root / "Dockerfile").write_text('FROM python:3.11-slim\nCOPY . /app\nCMD ["true"]\n')
    (root / "app.py").write_text("print('hi')\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "sub" / "mod.py").write_text("x = 1\n")
    (root / "empty").mkdir()
    (root / "link.py").symlink_to("app.py")
    (root / "pkg-link").symlink_to("pkg")
    (root / "dangling").symlink_to("nowhere")
    os.link(root / "app.py", root / "pkg" / "hard.py")
    (root / "données.txt").write_text("é\n")
    return root


def test_the_context_is_docker_pys_tar_byte_for_byte(tmp_path: Path) -> None:
    root = submission(tmp_path / "s")
    paths = headstart.context_paths(root)
    assert paths is not None
    ours = headstart.archive(root, paths)
    with docker.utils.build.tar(str(root), exclude=None, dockerfile=("Dockerfile", None)) as tar:
        assert ours == tar.read()
    assert "pkg/sub/mod.py" in paths and "pkg-link" in paths and "pkg-link/sub" not in paths


def test_a_context_over_the_bounds_is_not_sent_ahead(tmp_path: Path) -> None:
    root = submission(tmp_path / "s")
    assert headstart.context_paths(root, max_entries=5) is None
    (root / "data.bin").write_bytes(b"\0" * 2000)
    assert headstart.context_paths(root, max_bytes=1000) is None
    assert headstart.context_paths(root) is not None


@pytest.mark.parametrize("ignored", ["", "*.txt\npkg/sub\n!pkg/sub/mod.py\n"])
def test_the_request_is_the_one_docker_py_sends(
    ignored: str, tmp_path: Path, short_tmp: Path
) -> None:
    root = submission(tmp_path / "s")
    if ignored:
        (root / ".dockerignore").write_text(ignored)
    engine = Recorder(short_tmp / "e.sock", chunked({"stream": "done\n"}))
    labels = new_run_labels()
    limits = (256 << 20, 100, 1.5)
    try:
        head = headstart.begin([root], tmp_path / "out", False, [f"unix://{engine.path}"], labels,
                               limits, environ={})  # fmt: skip
        assert isinstance(head, HeadStart), head
        assert list(head.stream(5)) == [{"stream": "done\n"}]
        # the same bounds as Engine.build sends them (cgroups.api_params: container_limits)
        parent = head.group.parent if head.group else None
        api = docker.APIClient(base_url=f"unix://{engine.path}", version="1.41")
        list(api.build(path=str(root), dockerfile="Dockerfile", rm=True, forcerm=True,
                       pull=False, labels=image_labels(labels), decode=True,
                       container_limits=cgroups.api_params(limits, parent)))  # type: ignore[arg-type]  # fmt: skip
        api.close()
    finally:
        engine.close()
    (ours, our_headers, our_body), (theirs, their_headers, their_body) = engine.requests
    assert parse_qs(urlsplit(ours.split()[1]).query)["memory"] == [str(256 << 20)]
    assert ours.split()[0] == theirs.split()[0] == "POST"
    assert urlsplit(ours.split()[1]).path == "/build"  # the engine's own version, as Engine's
    assert urlsplit(theirs.split()[1]).path == "/v1.41/build"
    assert parse_qs(urlsplit(ours.split()[1]).query) == parse_qs(urlsplit(theirs.split()[1]).query)
    assert our_headers["Content-Type"] == their_headers["Content-Type"] == "application/tar"
    # keep-alive matters: the engine cancels a build whose client goes only on such a
    # connection (tests/integration/test_headstart.py)
    assert our_headers["Connection"] == their_headers["Connection"] == "keep-alive"
    assert "X-Registry-Config" not in their_headers  # no client configuration: no credentials
    assert our_body == their_body


def test_the_answer_is_read_as_docker_py_decodes_it(tmp_path: Path, short_tmp: Path) -> None:
    root = submission(tmp_path / "s")
    items = [{"stream": "Step 1/3 : FROM python:3.11-slim\n"}, {"aux": {"ID": "sha256:abc"}},
             {"stream": "Successfully built abc\n"}]  # fmt: skip
    engine = Recorder(short_tmp / "e.sock", chunked(*items))
    try:
        head = headstart.begin([root], tmp_path, True, [f"unix://{engine.path}"], {}, environ={})
        assert isinstance(head, HeadStart)
        limits = cgroups.DEFAULT_LIMITS
        assert head.matches(root, "Dockerfile", {}, limits)
        assert not head.matches(root, "Dockerfile.x", {}, limits)
        assert not head.matches(root, "Dockerfile", {}, (1 << 30, 100, 1.0))  # other bounds
        assert head.take() and not head.take()  # adopted once
        assert list(head.stream(5)) == items
        assert head.abandon() is None  # adopted: nothing to cancel or remove
    finally:
        engine.close()


def test_a_refusal_a_silence_and_an_abandon(tmp_path: Path, short_tmp: Path) -> None:
    root = submission(tmp_path / "s")
    body = json.dumps({"message": "dockerfile parse error line 1"}).encode()
    refusal = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
    refusal += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    engine = Recorder(short_tmp / "refuses.sock", refusal)
    silent = Recorder(short_tmp / "silent.sock", b"")
    built = Recorder(short_tmp / "built.sock", chunked({"aux": {"ID": "sha256:made"}}))
    try:
        head = headstart.begin([root], tmp_path, True, [f"unix://{engine.path}"], {}, environ={})
        assert isinstance(head, HeadStart)
        with pytest.raises(Refused) as refused:
            list(head.stream(5))
        assert refused.value.is_client_error()
        assert refused.value.message == "dockerfile parse error line 1"
        quiet = headstart.begin([root], tmp_path, True, [f"unix://{silent.path}"], {}, environ={})
        assert isinstance(quiet, HeadStart)
        with pytest.raises(TimeoutError):
            list(quiet.stream(0.2))
        left = headstart.begin([root], tmp_path, True, [f"unix://{built.path}"], {}, environ={})
        assert isinstance(left, HeadStart)
        assert left.abandon() == "sha256:made"  # never adopted: its image is to be removed
    finally:
        for server in (engine, silent, built):
            server.close()


def test_which_runs_send_their_build_ahead(tmp_path: Path) -> None:
    root = submission(tmp_path / "s")
    out = tmp_path / "out"
    assert headstart.folder_for([root], out, False) == root.resolve()
    assert headstart.folder_for([root, root], out, False) == "not exactly one PATH"
    assert headstart.folder_for([tmp_path], out, False) == "no Dockerfile in PATH"  # a class
    (out / "s").mkdir(parents=True)
    (out / "s" / "report.json").write_text("{}")
    assert headstart.folder_for([root], out, False) == "earlier reports may be reused"
    assert headstart.folder_for([root], out, True) == root.resolve()  # --force
    (root / ".dockerignore").write_text("*.txt\n")
    assert headstart.folder_for([root], out, True) == root.resolve()  # applied as docker-py does
    (root / ".dockerignore").unlink()
    (root / ".dockerignore").symlink_to("app.py")
    assert "dockerignore" in str(headstart.folder_for([root], out, True))
    (root / ".dockerignore").unlink()
    (root / "Dockerfile").rename(root / "Dockerfile.real")
    (root / "Dockerfile").symlink_to("Dockerfile.real")
    assert headstart.folder_for([root], out, True) == "the Dockerfile is not a plain file"


def test_only_one_local_unix_engine_gets_a_build_ahead() -> None:
    assert headstart.engine_socket([], {}) == "/var/run/docker.sock"
    assert headstart.engine_socket([], {"DOCKER_HOST": "unix:///run/x.sock"}) == "/run/x.sock"
    assert headstart.engine_socket(["unix:///a.sock"], {"DOCKER_HOST": "tcp://h:2375"}) == (
        "/a.sock"
    )
    assert headstart.engine_socket([], {"DOCKER_HOST": "tcp://h:2375"}) is None
    assert headstart.engine_socket(["ssh://grader@h"], {}) is None
    assert headstart.engine_socket(["unix:///a.sock", "unix:///b.sock"], {}) is None


def test_a_docker_client_configuration_means_no_build_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not headstart.client_configured({})
    config = tmp_path / "conf"
    config.mkdir()
    (config / "config.json").write_text('{"proxies": {"default": {"httpProxy": "http://p:3128"}}}')
    assert headstart.client_configured({"DOCKER_CONFIG": str(config)})
    assert not headstart.client_configured({})
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text("{}")
    assert headstart.client_configured({})
    root = submission(tmp_path / "s")
    reason = headstart.begin([root], tmp_path / "out", True, [], {}, environ={})
    assert reason == "a Docker client configuration"

"""One submission cannot exhaust the grader's memory or hold a worker forever (issue 15)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.classrun.reuse import key_of
from grader.classrun.watchdog import watch
from grader.engine.bounds import BuildLimits
from grader.engine.capped import capped
from grader.errors import ProbeFailed
from grader.grading.pipeline import Pipeline
from grader.grading.settings import Options
from grader.intake import submission
from grader.intake.submission import files_hash, load_submission
from grader.labels import new_run_labels
from grader.labs.spec import load_lab
from grader.stages import cache_probe
from grader.stages.probe import get


@pytest.fixture
def dripping() -> Iterator[Callable[[bytes], str]]:
    """A server on 127.0.0.1 that sends ``head`` at once, then a byte every 0.2 s for 30 s."""
    servers: list[socket.socket] = []
    stop = threading.Event()

    def start(head: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        servers.append(listener)

        def serve() -> None:
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                with conn:
                    conn.recv(4096)
                    conn.sendall(head)
                    for _ in range(150):
                        if stop.wait(0.2):
                            return
                        conn.sendall(b"x")

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/"

    yield start
    stop.set()
    for listener in servers:
        listener.close()


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nHello",
        b"HTTP/1.1 200 OK\r\nX-Slow: ",  # the headers themselves never end
    ],
    ids=["body", "headers"],
)
def test_a_dripping_page_ends_at_the_http_timeout(
    dripping: Callable[[bytes], str], head: bytes
) -> None:
    url = dripping(head)
    started = time.monotonic()
    with pytest.raises(ProbeFailed) as info:
        get(url, timeout_s=1.5)
    assert info.value.cause == "timeout"
    assert time.monotonic() - started < 3.0


def test_hashing_a_large_file_is_streamed(tmp_path: Path) -> None:
    with (tmp_path / "big.bin").open("wb") as handle:
        handle.truncate(128 << 20)  # sparse: 128 MiB read, none of it on disk
    tracemalloc.start()
    try:
        digest = files_hash(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(digest) == 64 and peak < 8 << 20, peak


def test_a_submission_too_large_to_hash_is_never_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submission, "HASH_LIMIT_BYTES", 1 << 20)
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    with (tmp_path / "big.bin").open("wb") as handle:
        handle.truncate(2 << 20)
    sub = load_submission(tmp_path)
    assert sub.files_hash == "" and key_of(sub, load_lab("tp6"), Options()) == ""
    monkeypatch.setattr(submission, "HASH_LIMIT_FILES", 1)
    (tmp_path / "big.bin").unlink()
    (tmp_path / "other").write_text("x")
    assert files_hash(tmp_path) == ""


class ContextRecorder:
    """An engine stand-in: its build records what the build context holds."""

    def __init__(self) -> None:
        self.context: list[str] = []

    def build(self, context: Path, *args: Any, **kwargs: Any) -> Any:
        self.context = sorted(str(p.relative_to(context)) for p in context.rglob("*"))
        return type("Outcome", (), {"image_id": None, "builder": "classic"})()


def test_the_layer_cache_probe_copies_only_the_build_context(tmp_path: Path) -> None:
    (tmp_path / "node_modules" / "left-pad").mkdir(parents=True)
    for i in range(50):
        (tmp_path / "node_modules" / "left-pad" / f"{i}.js").write_text("x" * 1000)
    (tmp_path / "node_modules" / "keep.js").write_text("kept")
    (tmp_path / ".dockerignore").write_text("node_modules\n!node_modules/keep.js\n*.log\n")
    (tmp_path / "debug.log").write_text("x" * 1000)
    (tmp_path / "package.json").write_text("{}")
    (tmp_path / "server.js").write_text("require('http')\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM node:18-slim\nWORKDIR /app\nCOPY package.json ./\nRUN npm install\n"
        'COPY . .\nCMD ["node", "server.js"]\n'
    )
    sub = load_submission(tmp_path)
    pipe = Pipeline(sub, load_lab("tp6bis"), lambda: None, new_run_labels(), Options())  # type: ignore[arg-type,return-value]
    engine = ContextRecorder()
    cache_probe.probe_cache(
        engine,  # type: ignore[arg-type]
        sub, pipe.dockerfile, {}, ["npm install"], ["package.json"], 10.0, BuildLimits(),
    )  # fmt: skip
    assert engine.context == [
        ".dockerignore", "Dockerfile", "node_modules", "node_modules/keep.js", "package.json",
        "server.js",
    ]  # fmt: skip


def test_a_cat_that_never_ends_is_cut_off() -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"x" * 65536

    assert capped(endless(), limit=1 << 20) is None
    assert capped(iter([b"ab", b"cd"]), limit=4) == b"abcd"


class RemovalEndsTheWait:
    """An engine stand-in whose one call blocks until its container is removed, as a
    ``docker exec`` or a probe of the container does."""

    def __init__(self) -> None:
        self.removed = threading.Event()

    def remove_container(self, container_id: str) -> None:
        self.removed.set()

    def logs(self, container_id: str, limit: int) -> str:
        return ""


def test_a_submission_past_its_time_has_its_containers_removed(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    engine = RemovalEndsTheWait()
    options = Options(submission_timeout_s=0.5)
    pipe = Pipeline(
        load_submission(tmp_path), load_lab("tp6"), lambda: engine, new_run_labels(), options
    )  # type: ignore[arg-type,return-value]
    pipe._containers.append("c0ffee")  # what a started stage registers
    started = time.monotonic()
    timer = watch(pipe, grace_s=0.5)
    try:
        assert engine.removed.wait(10), "the container was never removed"
    finally:
        timer.cancel()
    assert 0.9 <= time.monotonic() - started < 5

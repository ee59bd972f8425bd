"""BuildKit through the Engine API on the real engine: the plain log the CLI would print (steps,
cache hits, the failed step and its line), the image labelled, a timeout that stops the RUN
step, and the Dockerfiles that need the CLI's session."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from grader.dockerfile.parse import parse_dockerfile
from grader.engine import Engine
from grader.engine.buildapi import api_build
from grader.engine.buildgrpc import needs_session
from grader.errors import BuildTimedOut
from grader.facts.logcap import CappedText
from grader.labels import LABEL, new_run_labels
from grader.stages import buildkit_log
from grader.stages.build import failing_step

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _context(folder: Path, dockerfile: str, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _build(
    engine: Engine, context: Path, timeout_s: float = 300
) -> tuple[str | None, str | None, str]:
    text = CappedText(64_000)
    labels = new_run_labels()
    image_id, error = api_build(
        engine.api, engine.base_url, context, "Dockerfile", labels, timeout_s, text
    )
    if image_id is not None:
        assert engine.inspect_image(image_id)["Config"]["Labels"][LABEL]
    return image_id, error, text.text()


def test_a_rebuild_is_read_as_cached_steps(engine: Engine, tmp_path: Path) -> None:
    nonce = uuid.uuid4().hex
    context = _context(
        tmp_path / "ok",
        f"FROM python:3.11-slim\nWORKDIR /app\nRUN echo {nonce} > /n\nCOPY app.py .\n",
        **{"app.py": "print('hi')\n", ".dockerignore": "secret.txt\n", "secret.txt": "x"},
    )
    first, error, log = _build(engine, context)
    assert first is not None and error is None
    assert buildkit_log.is_buildkit_log(log)
    steps = {s.text: s for s in buildkit_log.steps(log)}
    assert not steps[f"RUN echo {nonce} > /n"].cached
    assert steps[f"RUN echo {nonce} > /n"].seconds is not None
    again, _, log = _build(engine, context)
    assert again is not None
    cached = {s.text: s.cached for s in buildkit_log.steps(log)}
    assert cached == {
        "FROM docker.io/library/python:3.11-slim": False,
        "WORKDIR /app": True,
        f"RUN echo {nonce} > /n": True,
        "COPY app.py .": True,
    }
    engine.remove_image(first)
    engine.remove_image(again)


def test_a_failing_heredoc_is_reported_at_its_line(engine: Engine, tmp_path: Path) -> None:
    context = _context(
        tmp_path / "heredoc",
        f"FROM python:3.11-slim AS base\nRUN echo {uuid.uuid4().hex}\nFROM base\n"
        'WORKDIR /x\nRUN <<EOT\necho one\nexit 3\nEOT\nCMD ["python3"]\n',
    )
    image_id, error, log = _build(engine, context)
    assert image_id is None and error is not None and "exit code: 3" in error
    facts = parse_dockerfile(context / "Dockerfile")
    assert failing_step(log, facts) == ("RUN <<EOT (echo one...)", 5)


def test_a_timeout_stops_the_run_step_in_the_engine(engine: Engine, tmp_path: Path) -> None:
    marker = f"grader-timeout-{uuid.uuid4().hex[:12]}"
    context = _context(tmp_path / "slow", f"FROM python:3.11-slim\nRUN sleep 300 # {marker}\n")
    started = time.monotonic()
    with pytest.raises(BuildTimedOut):
        _build(engine, context, timeout_s=6)
    assert time.monotonic() - started < 30
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the engine cancels the step when the body closes
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
        if marker not in ps.stdout:
            break
        time.sleep(0.5)
    assert marker not in ps.stdout


def test_secret_and_ssh_mounts_need_the_cli(tmp_path: Path) -> None:
    secret = _context(tmp_path / "s", "FROM alpine\nRUN --mount=id=tok,type=secret cat x\n")
    ssh = _context(tmp_path / "h", "FROM alpine\nRUN --mount=type=ssh ls\n")
    cache = _context(tmp_path / "c", "FROM alpine\nRUN --mount=type=cache,target=/c ls\n")
    assert needs_session(secret / "Dockerfile") and needs_session(ssh / "Dockerfile")
    assert not needs_session(cache / "Dockerfile")

"""The stop on real containers: known from PID 1's signal masks without waiting the grace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.dockerfile.parse import parse_dockerfile
from grader.engine import Engine
from grader.engine.bounds import BuildLimits
from grader.intake.submission import load_submission
from grader.labels import new_run_labels
from grader.stages import runtime, stopping
from grader.stages.build import Bounds, build_image
from grader.stages.run import Sandbox, start, wait_ready

pytestmark = [pytest.mark.docker, pytest.mark.slow]

GRACE_S = 20.0
"""Long, so that "known before the grace" holds however loaded the shared engine is."""
NODE_SERVER = "require('http').createServer((q, r) => r.end('ok')).listen(3000);"
APPS = {
    # python's http.server has no SIGTERM handler: the kernel drops SIGTERM for PID 1
    "python": ("python:3.11-slim", 8000, ["python", "-m", "http.server", "8000"]),
    # node's own handler resets SIGTERM to the default and re-raises it: dropped for PID 1
    "node": ("node:18-slim", 3000, ["node", "-e", NODE_SERVER]),
    "node-listener": (
        "node:18-slim",
        3000,
        ["node", "-e", NODE_SERVER + "process.on('SIGTERM', () => process.exit(0));"],
    ),
    # exits with a status of its own: containerd's, read before the engine has handled the exit
    "node-exit-7": (
        "node:18-slim",
        3000,
        ["node", "-e", NODE_SERVER + "process.on('SIGTERM', () => process.exit(7));"],
    ),
    # a handler that does nothing: only the end of the grace tells
    "python-handler": (
        "python:3.11-slim",
        8000,
        [
            "python",
            "-c",
            "import signal, http.server as h; signal.signal(signal.SIGTERM, lambda *a: None); "
            "h.HTTPServer(('', 8000), h.SimpleHTTPRequestHandler).serve_forever()",
        ],
    ),
}


@pytest.fixture
def running(
    engine: Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, int | None]]:
    base, port, cmd = APPS[request.param]
    quoted = ", ".join(f'"{a}"' for a in (c.replace('"', '\\"') for c in cmd))
    (tmp_path / "Dockerfile").write_text(f"FROM {base}\nCMD [{quoted}]\n", encoding="utf-8")
    sub = load_submission(tmp_path)
    assert sub.dockerfile is not None
    labels = new_run_labels()
    built = build_image(
        engine, sub, parse_dockerfile(sub.dockerfile), labels, 300, 10_000, Bounds(BuildLimits())
    )
    container_id, host_port = start(engine, built.image_id, port, labels, Sandbox())
    try:
        ready = wait_ready(engine, container_id, f"http://127.0.0.1:{host_port}/", port, 60, 5)
        assert ready.ready, ready.log_tail
        yield container_id, host_port
    finally:
        engine.remove_container(container_id)
        engine.remove_image(built.image_id)


def stop(engine: Engine, running: tuple[str, int | None], grace_s: float) -> stopping.Stopped:
    container_id, host_port = running
    main = runtime.main_process(engine, container_id)
    assert main is not None and main.proc is not None  # the engine is this machine's
    return stopping.stop(engine, container_id, main, grace_s, host_port)


@pytest.mark.parametrize("running", ["python"], indirect=True)
def test_a_pid1_without_a_handler_is_killed_at_once(
    engine: Engine, running: tuple[str, int | None]
) -> None:
    done = stop(engine, running, GRACE_S)
    assert (done.outcome, done.exit_status) == ("ignored", 137)
    assert done.seconds < GRACE_S / 2  # known before the grace (a loaded engine kills slowly)
    assert engine.wait_exit(running[0]) == 137  # the engine saw it killed (sent directly)


@pytest.mark.parametrize("running", ["node"], indirect=True)
def test_node_without_a_listener_is_killed_once_its_handler_reset_sigterm(
    engine: Engine, running: tuple[str, int | None]
) -> None:
    done = stop(engine, running, GRACE_S)
    assert (done.outcome, done.exit_status) == ("dropped", 137)
    assert done.seconds < GRACE_S / 2
    assert engine.wait_exit(running[0]) == 137


@pytest.mark.parametrize("running", ["node-listener"], indirect=True)
def test_node_with_a_listener_exits_on_sigterm(
    engine: Engine, running: tuple[str, int | None]
) -> None:
    done = stop(engine, running, GRACE_S)
    assert (done.outcome, done.exit_status) == ("exited", 0)
    assert done.seconds < GRACE_S / 2


@pytest.mark.parametrize("running", ["node-exit-7"], indirect=True)
def test_the_exit_status_is_the_apps_own_the_one_the_engine_records(
    engine: Engine, running: tuple[str, int | None]
) -> None:
    done = stop(engine, running, GRACE_S)
    assert (done.outcome, done.exit_status) == ("exited", 7)
    assert engine.wait_exit(running[0]) == 7


@pytest.mark.parametrize("running", ["python-handler"], indirect=True)
def test_a_handler_that_does_not_exit_waits_the_grace(
    engine: Engine, running: tuple[str, int | None]
) -> None:
    done = stop(engine, running, 2)
    assert (done.outcome, done.exit_status) == ("grace", 137)
    assert done.seconds >= 2.0
    assert engine.wait_exit(running[0]) == 137

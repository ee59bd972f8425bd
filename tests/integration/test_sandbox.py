"""Every container the grader starts is sandboxed; a test inspects a real one's HostConfig."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.dockerfile.parse import parse_dockerfile
from grader.engine import Engine
from grader.engine.bounds import BuildLimits
from grader.intake.submission import load_submission
from grader.labels import LABEL, new_run_labels
from grader.stages.build import Bounds, build_image
from grader.stages.run import Sandbox, start, wait_ready

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def running(engine: Engine, repo_root: Path) -> Iterator[tuple[str, int | None]]:
    sub = load_submission(repo_root / "submissions" / "tp6-ok")
    labels = new_run_labels()
    assert sub.dockerfile is not None
    built = build_image(
        engine, sub, parse_dockerfile(sub.dockerfile), labels, 300, 10_000, Bounds(BuildLimits())
    )
    container_id, host_port = start(engine, built.image_id, 8000, labels, Sandbox(memory="256m"))
    try:
        yield container_id, host_port
    finally:
        engine.remove_container(container_id)
        engine.remove_image(built.image_id)


def test_host_config_is_locked_down(engine: Engine, running: tuple[str, int | None]) -> None:
    container_id, host_port = running
    attrs = engine.inspect_container(container_id)
    hc = attrs["HostConfig"]
    assert hc["Memory"] == 256 * 1024 * 1024
    assert hc["MemorySwap"] == 256 * 1024 * 1024
    assert hc["PidsLimit"] == 256
    assert hc["NanoCpus"] == 1_000_000_000
    assert hc["CapDrop"] == ["ALL"] and not hc["CapAdd"]
    assert hc["SecurityOpt"] == ["no-new-privileges"]
    assert hc["Privileged"] is False
    assert not hc["Binds"] and not attrs["Mounts"]
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}}
    bindings = hc["PortBindings"]["8000/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    published = attrs["NetworkSettings"]["Ports"]["8000/tcp"]
    assert all(b["HostIp"] == "127.0.0.1" for b in published)
    assert host_port is not None and host_port > 0
    assert attrs["Config"]["Labels"][LABEL] == "1"


def test_readiness_is_seen_within_the_bound(
    engine: Engine, running: tuple[str, int | None]
) -> None:
    container_id, host_port = running
    result = wait_ready(engine, container_id, f"http://127.0.0.1:{host_port}/", 8000, 30, 5)
    assert result.ready and result.running and result.seconds < 30

"""``scripts/engine-up.sh`` starts dockerd with the build cache's bounds
(``scripts/dockerd.json``) unless the machine has its own ``/etc/docker/daemon.json``.

The script runs for real, under a temporary root (``ENGINE_UP_ROOT``), with stand-in
``docker`` and ``dockerd`` first on PATH: the stand-in dockerd records its arguments."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "engine-up.sh"

DOCKER = """#!/bin/sh
case "$1" in
info) test -e "$ENGINE_UP_ROOT/started" ;;
buildx) exit 0 ;;
*) exit 2 ;;
esac
"""

DOCKERD = """#!/bin/sh
case "$1" in
--version) echo "Docker version 26.1.5+dfsg1, build a72d7cd"; exit 0 ;;
--validate) [ -e "$ENGINE_UP_ROOT/invalid" ] && exit 1; echo "configuration OK"; exit 0 ;;
esac
for arg; do printf '%s\\n' "$arg"; done > "$ENGINE_UP_ROOT/dockerd-args"
touch "$ENGINE_UP_ROOT/started"
"""


def _run(root: Path) -> list[str]:
    """Run the script under ``root``; dockerd's arguments, one per item."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, text in (("docker", DOCKER), ("dockerd", DOCKERD)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    for sub in ("run", "var/log", "var/run", "etc"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env.update(ENGINE_UP_ROOT=str(root), PATH=f"{bin_dir}:{env['PATH']}")
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "engine-up: started dockerd" in done.stderr
    return (root / "dockerd-args").read_text().splitlines()


@pytest.fixture(autouse=True)
def _as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("engine-up.sh starts dockerd only as root")


def test_dockerd_gets_the_build_cache_bounds(tmp_path: Path) -> None:
    args = _run(tmp_path)
    copy = tmp_path / "run" / "docker-lab-grader-dockerd.json"
    assert args == ["--config-file", str(copy)]
    assert copy.read_text() == (ROOT / "scripts" / "dockerd.json").read_text()


def test_a_machines_own_daemon_json_is_left_to_dockerd(tmp_path: Path) -> None:
    (tmp_path / "etc" / "docker").mkdir(parents=True)
    (tmp_path / "etc" / "docker" / "daemon.json").write_text("{}\n")
    assert _run(tmp_path) == []


def test_a_configuration_dockerd_refuses_is_not_passed(tmp_path: Path) -> None:
    (tmp_path / "invalid").touch()
    assert _run(tmp_path) == []

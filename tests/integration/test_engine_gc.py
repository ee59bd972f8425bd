"""The engine ``make`` starts bounds its build cache (``scripts/dockerd.json``): Engine 26
collects nothing unless its configuration says so, and a grading engine piles up one-off
records (every student's layers) that slow each later build down."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.private_engine import PrivateEngine

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "scripts" / "dockerd.json"

pytestmark = pytest.mark.usefixtures("engine")


def _rules(text: str) -> list[dict[str, str]]:
    """``docker buildx inspect``'s GC rules, each as its ``Key: value`` lines."""
    rules: list[dict[str, str]] = []
    for line in text.splitlines():
        if line.startswith("GC Policy rule#"):
            rules.append({})
        elif rules and ":" in line and line.startswith(" "):
            key, _, value = line.strip().partition(":")
            rules[-1][key.strip()] = value.strip()
    return rules


@pytest.fixture(scope="module")
def configured() -> Iterator[PrivateEngine]:
    engine = PrivateEngine("gc", "10.213.13.1/24", ("--config-file", str(CONFIG)))
    try:
        engine.start()
        yield engine
    finally:
        engine.destroy()


def test_the_configuration_is_one_dockerd_accepts() -> None:
    checked = subprocess.run(
        ["dockerd", "--validate", "--config-file", str(CONFIG)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert "configuration OK" in checked.stdout + checked.stderr


def test_the_started_engine_collects_every_record_unused_for_12_hours(
    configured: PrivateEngine,
) -> None:
    shown = subprocess.run(
        ["docker", "-H", configured.url, "buildx", "inspect", "default"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rules = _rules(shown.stdout)
    assert len(rules) == 1, shown.stdout
    assert rules[0]["All"] == "true"
    # dockerd turns "12h" into a point in time, then back into a duration: 12 hours and a few
    # seconds (the time it took to start)
    assert re.fullmatch(r"12h0m\d+(\.\d+)?s", rules[0]["Keep Duration"]), rules[0]
    # no size to keep: every record unused for that long goes, whatever the cache's size (a
    # size bound costs each collection the size of every record: 1.4 s of CPU on 22 000)
    assert rules[0].get("Keep Bytes", "0") in ("0", "0B"), rules[0]

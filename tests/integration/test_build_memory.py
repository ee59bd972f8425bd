"""The default build memory bound leaves an honest Node build running as it would unbounded.

Node sizes V8's heap from the memory limit it sees in its cgroup: a bound too low changes how
often an ``npm ci`` collects its heap, and so how long every build of the class takes, long
before it could stop anything (docs/security-builds.md, "Why these defaults"). A RUN step
under the grader's default bounds counts V8's full collections on a fixed load; the same
count is read from a container with no memory limit at all, and, to show that the count
tells, from a build under the old 2 GiB bound.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine import Engine
from grader.engine.bounds import BuildLimits
from grader.labels import LABEL_RUN, new_run_labels

pytestmark = [pytest.mark.docker, pytest.mark.slow]

IMAGE = "node:18-slim"
LOAD = (
    "const r = new Array(200000); for (let i = 0; i < 1e7; i++) r[i % 200000] = {x: i, y: [i, i]};"
)
"""Ten million short-lived objects, 200 000 of them alive at any time."""
COUNT = f"node --trace-gc -e '{LOAD}' | grep -c Mark-sweep"
"""How many full collections V8 makes of that load (``grep -c``: one number)."""


@pytest.fixture(scope="module")
def labels(engine: Engine) -> Iterator[dict[str, str]]:
    """This module's run labels; its images and containers are removed at the end."""
    run = new_run_labels()
    yield run
    engine.sweep(run[LABEL_RUN])


def _built_count(
    engine: Engine, labels: dict[str, str], folder: Path, limits: BuildLimits, builder: str
) -> int:
    """The count, from a RUN step of a build under ``limits`` (never cached: a nonce)."""
    folder.mkdir()
    step = f"RUN echo {uuid.uuid4().hex} && echo full-gc=$({COUNT})"
    (folder / "Dockerfile").write_text(f"FROM {IMAGE}\n{step}\n", encoding="utf-8")
    built = engine.build(folder, "Dockerfile", labels, 300, 100_000, limits=limits, builder=builder)
    assert built.image_id is not None, built.log
    assert built.bounds is not None and built.bounds.limits == limits
    found = re.search(r"full-gc=(\d+)", built.log)
    assert found is not None, built.log
    return int(found.group(1))


def _unbounded_count(engine: Engine, labels: dict[str, str]) -> int:
    """The count, from a container with no memory limit."""
    api = engine.api
    host = api.create_host_config(network_mode="none")
    created = api.create_container(IMAGE, ["sh", "-c", COUNT], labels=labels, host_config=host)
    try:
        api.start(created["Id"])
        assert api.wait(created["Id"], timeout=120)["StatusCode"] == 0
        return int(api.logs(created["Id"], stderr=False).decode().strip())
    finally:
        api.remove_container(created["Id"], force=True)


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_node_collects_as_unbounded_under_the_default_build_memory(
    engine: Engine, labels: dict[str, str], tmp_path: Path, builder: str
) -> None:
    """Within one collection: V8 marks partly on threads of its own, and the same load makes
    9 or 10 full collections from one unbounded run to the next (6 runs); under the 2 GiB
    bound of before, 32 to 34 (``test_the_count_tells_a_low_bound_from_none``)."""
    bounded = _built_count(engine, labels, tmp_path / "default", BuildLimits(), builder)
    unbounded = _unbounded_count(engine, labels)
    assert abs(bounded - unbounded) <= 1, (bounded, unbounded)


def test_the_count_tells_a_low_bound_from_none(
    engine: Engine, labels: dict[str, str], tmp_path: Path
) -> None:
    """Under 2 GiB (the bound before) V8 makes about three times as many full collections."""
    low = BuildLimits(memory_bytes=2 << 30)
    assert _built_count(engine, labels, tmp_path / "low", low, "buildkit") > 2 * (
        _unbounded_count(engine, labels)
    )

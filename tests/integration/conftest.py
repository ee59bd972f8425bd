"""Real-engine fixtures: the engine, a sweep of the grader's leftovers, one graded class."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.engine import LABEL, Engine

BIN = Path(sys.executable).parent


def grader_objects(engine: Engine) -> tuple[list[Any], list[Any]]:
    """Containers and images that carry the grader's label."""
    api = engine.api
    return (
        api.containers(all=True, filters={"label": LABEL}),
        api.images(filters={"label": LABEL}),
    )


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The real engine (make test starts one); fails, never skips, when there is none."""
    eng = Engine()
    eng.sweep()
    yield eng
    eng.sweep()
    eng.close()


@pytest.fixture
def leftovers(engine: Engine) -> Callable[[], tuple[list[Any], list[Any]]]:
    """Call it to list the grader-labelled containers and images still in the engine."""
    return lambda: grader_objects(engine)


@pytest.fixture(scope="session")
def graded_class(
    engine: Engine, repo_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """`grade submissions/` run once, as a user runs it; its output and reports."""
    out = tmp_path_factory.mktemp("reports")
    proc = subprocess.run(
        [str(BIN / "grade"), str(repo_root / "submissions"), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=repo_root,
    )
    reports = {
        p.parent.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(out.glob("*/report.json"))
    }
    leftovers = grader_objects(engine)
    return {"proc": proc, "out": out, "reports": reports, "leftovers": leftovers}

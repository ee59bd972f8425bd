"""A class spread over two real engines (two private dockerd): every report exact, both used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from private_engine import PrivateEngine
from test_engine_faults import offline_submission
from test_throughput import golden

from grader.classrun.batch import Graded, Listener, run_class
from grader.classrun.workers import EnginePool
from grader.engine import Engine
from grader.grading.settings import Options
from grader.labels import LABEL

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def two_engines() -> Iterator[list[PrivateEngine]]:
    engines = [PrivateEngine("tput-a", "10.213.8.1/24"), PrivateEngine("tput-b", "10.213.9.1/24")]
    try:
        for engine in engines:  # a fresh engine has no images and no registry: load the base
            engine.start()
            engine.load_image("python:3.11-slim")
        yield engines
    finally:
        for engine in engines:
            engine.destroy()


class Seen(Listener):
    def __init__(self) -> None:
        self.seen: list[Graded] = []

    def graded(self, graded: Graded) -> None:
        self.seen.append(graded)


def test_a_class_split_over_two_engines(
    repo_root: Path, tmp_path: Path, two_engines: list[PrivateEngine]
) -> None:
    klass = tmp_path / "class"
    for name in ("ok-1", "ok-2", "text-1", "text-2"):
        offline_submission(repo_root, klass / name)
        if name.startswith("text"):
            app = klass / name / "app.py"
            app.write_text(app.read_text().replace("Hello Docker!", "Hello World!"))
    urls = [e.url for e in two_engines]
    pool = EnginePool.connect(urls)
    seen = Seen()
    try:
        result = run_class([klass], "tp6", Options(lang="en"), tmp_path / "out", pool, seen, jobs=2)
        assert pool.used == [2, 2]
    finally:
        pool.close()
    by_name = {r.submission: r for r in result.reports}
    assert sorted(by_name) == ["ok-1", "ok-2", "text-1", "text-2"]
    for name, report in by_name.items():
        expected = golden("tp6", "tp6-ok")  # text-N: tp6-ok with only the page's text wrong
        if name.startswith("text"):
            expected["http.root_text"] = "failed"
        assert {c.id: c.status.value for c in report.checks} == expected, name
    assert {g.engine for g in seen.seen} == set(urls)  # each engine built and ran some
    for url in urls:
        engine = Engine(url)
        try:
            assert engine.api.containers(all=True, filters={"label": LABEL}) == []
            assert engine.api.images(filters={"label": LABEL}) == []
        finally:
            engine.close()

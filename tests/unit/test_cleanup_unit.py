"""grader/classrun/cleanup.py: when this run's images are listed, and what the end removes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from grader.classrun.cleanup import Cleanup
from grader.classrun.jobs import Job, Listener, Run
from grader.classrun.workers import EnginePool
from grader.facts.results import assemble
from grader.grading.settings import Options


class FakeEngine:
    """Records what the clean-up asks; ``listed`` is what a listing by label finds."""

    base_url = "unix:///fake.sock"

    def __init__(self, listed: list[str]) -> None:
        self.listed = listed
        self.calls: list[tuple[str, Any]] = []

    def run_images(self, run_id: str | None, dead_too: bool = False) -> list[str]:
        self.calls.append(("list", (run_id, dead_too)))
        return list(self.listed)

    def sweep(self, run_id: str | None = None, images: Any = None) -> int:
        self.calls.append(("sweep", (run_id, None if images is None else sorted(images))))
        return 0

    def close(self) -> None:
        pass


def test_the_listing_waits_for_the_last_build_and_a_quiet_engine() -> None:
    engine = FakeEngine(["img-a", "img-dead"])
    cleanup = Cleanup(EnginePool([engine]), "run1")  # type: ignore[list-item]
    built, quiet = threading.Event(), threading.Event()
    cleanup.list_when(built, quiet)
    built.set()
    assert not any(c[0] == "list" for c in engine.calls)  # the container is still starting
    quiet.set()
    cleanup.built(0, ["img-b"])  # an image a pipeline reports, whenever it came
    cleanup.finish().join()
    assert engine.calls == [
        ("list", ("run1", True)),  # once, this run's and dead runs' images
        ("sweep", ("run1", ["img-a", "img-b", "img-dead"])),  # not listed again
    ]


def test_without_an_early_listing_the_end_lists_once() -> None:
    engine = FakeEngine(["img-a"])
    cleanup = Cleanup(EnginePool([engine]), "run1")  # type: ignore[list-item]
    cleanup.start()  # dead runs' containers only: no image listing during the first build
    cleanup.finish().join()
    assert engine.calls == [
        ("sweep", (None, [])),
        ("list", ("run1", True)),
        ("sweep", ("run1", ["img-a"])),
    ]


def test_a_submission_is_closed_before_its_reports_are_written(tmp_path: Path) -> None:
    """``on_closed`` comes between the two: a class run's last one begins the end's clean-up
    there (``batch.run_class``), beside the writing of its reports."""
    pool = EnginePool([FakeEngine([])])  # type: ignore[list-item]
    run = Run("tp6", Options(), tmp_path, pool, {}, Listener(), True, True, Cleanup(pool, "r1"))
    job = Job(tmp_path / "alice", "alice", report=assemble("alice", "tp6", []))  # type: ignore[arg-type]
    job.prepared.set()
    seen: list[bool] = []
    graded = run.finish(job, lambda: seen.append((tmp_path / "alice").exists()))
    assert seen == [False]
    assert (graded.folder / "report.json").is_file()

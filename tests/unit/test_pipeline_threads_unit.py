"""The pipeline under threads: a stage read from several threads at once runs once."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from grader.errors import EngineUnavailable
from grader.grading import pipeline as pipeline_module
from grader.grading import static_stages
from grader.grading.pipeline import Pipeline
from grader.grading.settings import Options
from grader.intake.submission import load_submission
from grader.labels import new_run_labels
from grader.labs.spec import load_lab


def _no_engine() -> Any:
    raise EngineUnavailable("not needed here")


def test_a_stage_read_by_many_threads_runs_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
    real = static_stages.parse_dockerfile
    calls: list[str] = []

    def slow_parse(path: Path) -> Any:
        calls.append(threading.current_thread().name)
        time.sleep(0.05)  # wide open window for a second thread to enter
        return real(path)

    monkeypatch.setattr(static_stages, "parse_dockerfile", slow_parse)
    pipe = Pipeline(
        load_submission(tmp_path), load_lab("tp6"), _no_engine, new_run_labels(), Options()
    )
    started: list[str] = []
    pipe.on_stage = started.append
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(pipe.dockerfile)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and started == ["dockerfile"]
    assert len(seen) == 8 and all(s is seen[0] for s in seen)


def test_a_failed_stage_fails_the_same_way_in_every_thread(tmp_path: Path) -> None:
    pipe = Pipeline(
        load_submission(tmp_path), load_lab("tp6"), _no_engine, new_run_labels(), Options()
    )
    errors: list[BaseException] = []

    def read() -> None:
        try:
            _ = pipe.build
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 4 and all(e is errors[0] for e in errors)
    assert type(errors[0]).__name__ == "NoDockerfile"


def test_stages_that_do_not_depend_on_each_other_run_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Dockerfile's parse waits for the declaration's read, which runs in another thread:
    one pipeline-wide lock would hold the declaration back until the parse gave up."""
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
    read = threading.Event()
    real_parse, real_declaration = (
        static_stages.parse_dockerfile,
        pipeline_module.read_declaration,
    )

    def parse_after_read(path: Path) -> Any:
        read.wait(timeout=10)
        return real_parse(path), read.is_set()

    def declaration(root: Path) -> Any:
        read.set()
        return real_declaration(root)

    monkeypatch.setattr(static_stages, "parse_dockerfile", parse_after_read)
    monkeypatch.setattr(pipeline_module, "read_declaration", declaration)
    pipe = Pipeline(
        load_submission(tmp_path), load_lab("tp6"), _no_engine, new_run_labels(), Options()
    )
    parsed: list[Any] = []
    first = threading.Thread(target=lambda: parsed.append(pipe.dockerfile))
    first.start()
    while not pipe._locks.get("dockerfile"):  # the parse holds its stage's lock
        time.sleep(0.001)
    second = threading.Thread(target=lambda: _declared(pipe))
    second.start()
    first.join()
    second.join()
    assert parsed and parsed[0][1] is True  # the declaration was read while the parse waited


def _declared(pipe: Pipeline) -> None:
    with contextlib.suppress(Exception):  # no submission.toml here: NotDeclared, cached
        _ = pipe.declaration


def _frames(exc: BaseException) -> int:
    count, tb = 0, exc.__traceback__
    while tb is not None:
        count, tb = count + 1, tb.tb_next
    return count


def test_a_failed_stage_read_again_and_again_raises_with_its_own_traceback(
    tmp_path: Path,
) -> None:
    # each check that reads a failed stage re-raises the cached exception: its traceback must
    # not keep every frame of every earlier raise (pytest walks them all, check after check)
    pipe = Pipeline(
        load_submission(tmp_path), load_lab("tp6"), _no_engine, new_run_labels(), Options()
    )
    lengths = []
    for _ in range(20):
        with pytest.raises(EngineUnavailable) as raised:
            _ = pipe.engine
        lengths.append(_frames(raised.value))
    assert len(set(lengths)) == 1, lengths


def test_a_failed_check_is_described_in_one_line_without_walking_its_traceback() -> None:
    from grader.grading.single import ShortTracebacks

    class Item:
        pass

    item = Item()
    ShortTracebacks.pytest_collection_modifyitems([item])  # type: ignore[list-item]
    try:
        raise EngineUnavailable("no engine here")
    except EngineUnavailable:
        excinfo = pytest.ExceptionInfo.from_current()
    assert item.repr_failure(excinfo) == "EngineUnavailable: no engine here"  # type: ignore[attr-defined]
    assert item._repr_failure_py(excinfo, style="long") == item.repr_failure(excinfo)  # type: ignore[attr-defined]


class Removals:
    """An engine stand-in that records the containers it is asked to remove."""

    def __init__(self) -> None:
        self.removed: list[str] = []

    def remove_container(self, container_id: str) -> None:
        self.removed.append(container_id)

    def logs(self, container_id: str, limit: int) -> str:
        return f"log of {container_id}"


def test_close_removes_each_container_once(tmp_path: Path) -> None:
    """The stopped container is removed by the stop's wrap-up thread, which ``close`` joins:
    not a second time (an engine call fewer at the end of every submission); a container the
    stop never saw (a port-discovery's first one) is removed by ``close``."""
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
    engine = Removals()
    pipe = Pipeline(
        load_submission(tmp_path), load_lab("tp6"), lambda: engine, new_run_labels(), Options()
    )  # type: ignore[arg-type,return-value]
    pipe._containers += ["first", "stopped"]  # what the start registers
    pipe._container_id = "stopped"
    pipe._wrapping = threading.Thread(target=pipe._keep_log, args=("stopped", True))
    pipe._wrapping.start()  # as the stop starts it
    pipe.close()
    assert sorted(engine.removed) == ["first", "stopped"]
    assert pipe.container_log == "log of stopped"

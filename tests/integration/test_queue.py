"""A class graded through a real Redis by grade-worker processes on two real engines."""

from __future__ import annotations

import json
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from private_engine import PrivateEngine
from redis_server import Worker, redis_server
from test_engine_faults import offline_submission
from test_throughput import PARALLEL, golden

from bench.secondengine import iptables, nat_rules
from grader.classrun import tasks
from grader.classrun.batch import ClassResult
from grader.classrun.jobs import Graded, Listener
from grader.classrun.remote import run_queued
from grader.engine import Engine
from grader.grading.settings import Options
from grader.labels import LABEL

pytestmark = [pytest.mark.docker, pytest.mark.slow]
MAIN = "unix:///var/run/docker.sock"


@pytest.fixture(scope="module")
def second_engine() -> Iterator[PrivateEngine]:
    engine = PrivateEngine("queue-b", "10.213.41.1/24")
    try:
        engine.start()
        engine.load_image("python:3.11-slim")
        yield engine
    finally:
        engine.destroy()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path / "redis") as url:
        yield url


class Seen(Listener):
    def __init__(self) -> None:
        self.seen: list[Graded] = []

    def graded(self, graded: Graded) -> None:
        self.seen.append(graded)


def offline_class(repo_root: Path, klass: Path, names: list[str]) -> None:
    """tp6-ok without network (``ok-N``), the same with the page's text wrong (``text-N``)."""
    for name in names:
        offline_submission(repo_root, klass / name)
        if name.startswith("text"):
            app = klass / name / "app.py"
            app.write_text(app.read_text().replace("Hello Docker!", "Hello World!"))


def expected(name: str) -> dict[str, str]:
    found = golden("tp6", "tp6-ok")
    if name.startswith("text"):
        found["http.root_text"] = "failed"
    return found


def statuses(result: ClassResult) -> dict[str, dict[str, str]]:
    return {r.submission: {c.id: c.status.value for c in r.checks} for r in result.reports}


def test_two_workers_on_two_engines_grade_a_class_through_redis(
    repo_root: Path, tmp_path: Path, redis_url: str, second_engine: PrivateEngine
) -> None:
    klass = tmp_path / "class"
    offline_class(repo_root, klass, ["ok-1", "ok-2", "text-1"])
    workers = [
        Worker(redis_url, tmp_path / "a.log", "-j", "1", "--name", "a@test"),
        Worker(redis_url, tmp_path / "b.log", "-j", "1", "--name", "b@test",
               "--docker-host", second_engine.url),
    ]  # fmt: skip
    try:
        for worker in workers:
            worker.wait_for("ready.")
        seen = Seen()
        result = run_queued([klass], "tp6", Options(lang="en"), tmp_path / "out", redis_url, seen)
    finally:
        for worker in workers:
            worker.stop()
    got = statuses(result)
    assert sorted(got) == ["ok-1", "ok-2", "text-1"]
    for name, checks in got.items():
        assert checks == expected(name), name
    assert {g.engine for g in seen.seen} == {MAIN, second_engine.url}  # both hosts graded
    assert (tmp_path / "out" / "summary.csv").read_text().count("\n") == 4
    # an unchanged class is not graded again: its reports are kept, no task is sent
    again = Seen()
    run_queued([klass], "tp6", Options(lang="en"), tmp_path / "out", redis_url, again)
    assert [g.reused for g in again.seen] == [True, True, True]


def test_a_worker_killed_mid_class_loses_nothing(
    repo_root: Path, tmp_path: Path, redis_url: str, second_engine: PrivateEngine, engine: Engine
) -> None:
    klass = tmp_path / "class"
    offline_class(repo_root, klass, ["ok-1", "text-1"])
    options = Options(lang="en", submission_timeout_s=40)
    doomed = Worker(redis_url, tmp_path / "a.log", "-j", "1", "--name", "a@test",
                    "--visibility-timeout", "45")  # fmt: skip
    seen = Seen()
    outcome: list[ClassResult] = []
    sender = threading.Thread(target=lambda: outcome.append(run_queued(
        [klass], "tp6", options, tmp_path / "out", redis_url, seen)))  # fmt: skip
    survivor: Worker | None = None
    try:
        doomed.wait_for("ready.")
        sender.start()
        doomed.wait_for("ok-1: ")  # mid-task: a first stage of the first submission done
        doomed.kill()
        b_engine = ("--docker-host", second_engine.url)
        survivor = Worker(redis_url, tmp_path / "b.log", "-j", "1", "--name", "b@test",
                          *b_engine, "--visibility-timeout", "45")  # fmt: skip
        sender.join(timeout=300)
        assert not sender.is_alive()
    finally:
        doomed.kill()
        if survivor is not None:
            survivor.stop()
    (result,) = outcome
    got = statuses(result)
    assert got == {"ok-1": expected("ok-1"), "text-1": expected("text-1")}
    engines = {g.report.submission: g.engine for g in seen.seen}
    assert engines["ok-1"] == second_engine.url  # killed mid-task, graded by the other
    assert engines["text-1"] in (MAIN, second_engine.url)  # the doomed's other slot may finish it
    assert "'submission': 'ok-1'" not in doomed.text()


def test_a_single_submission_goes_before_a_class(
    repo_root: Path, tmp_path: Path, redis_url: str
) -> None:
    klass = tmp_path / "class"
    for name in ("c-1", "c-2", "c-3"):
        shutil.copytree(repo_root / "submissions" / "tp6-no-dockerfile", klass / name)
    alone = tmp_path / "alone" / "self-check"
    shutil.copytree(repo_root / "submissions" / "tp6-syntax-error", alone)
    client = redis.Redis.from_url(redis_url)
    options = Options(lang="en")
    runs = [
        threading.Thread(target=run_queued, args=([klass], "tp6", options, tmp_path / "out",
                                                  redis_url)),
        threading.Thread(target=run_queued, args=([alone], "tp6", options, tmp_path / "me",
                                                  redis_url)),
    ]  # fmt: skip
    runs[0].start()
    wait_until(lambda: client.llen("grader:5") == 3)  # the class waits, no worker yet
    runs[1].start()
    wait_until(lambda: client.llen("grader") == 1)  # priority 0: the bare queue
    worker = Worker(redis_url, tmp_path / "w.log", "-j", "1", "--name", "w@test")
    try:
        for run in runs:
            run.join(timeout=300)
    finally:
        worker.stop()
    # the order the slots took them in (a task's id ends with its submission's name's hash)
    named = {tasks.task_id("", n).rsplit("-", 1)[1]: n for n in ("c-1", "c-2", "c-3", "self-check")}
    taken = re.findall(r"grader\.grade\[grade-\w+-(\w+)\] received", worker.text())
    order = [named[h] for h in taken]
    assert order[0] == "self-check" and sorted(order) == ["c-1", "c-2", "c-3", "self-check"]
    assert statuses_of(tmp_path / "me", "self-check") == golden("tp6", "tp6-syntax-error")


def test_a_submission_failing_three_times_is_an_error_and_the_class_goes_on(
    repo_root: Path, tmp_path: Path, redis_url: str, second_engine: PrivateEngine
) -> None:
    klass = tmp_path / "class"
    offline_class(repo_root, klass, ["ok-1"])
    worker = Worker(redis_url, tmp_path / "w.log", "-j", "1", "--name", "w@test",
                    "--docker-host", second_engine.url)  # fmt: skip
    try:
        worker.wait_for("ready.")
        second_engine.stop()  # every delivery now finds its engine gone
        result = run_queued([klass], "tp6", Options(lang="en"), tmp_path / "out", redis_url)
    finally:
        worker.stop()
        second_engine.start()
    (report,) = result.reports
    assert {c.status.value for c in report.checks} == {"error"}
    assert "3 attempts did not grade it; the last: w@test:" in report.checks[0].message
    assert report.reuse_key == ""  # graded again next time
    assert worker.text().count("received") == 3


def wait_until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def statuses_of(out: Path, name: str) -> dict[str, str]:
    report = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return {c["id"]: c["status"] for c in report["checks"]}


def test_a_worker_refuses_another_grader_version_and_finishes_its_task_on_sigterm(
    repo_root: Path, tmp_path: Path, redis_url: str
) -> None:
    klass = tmp_path / "class"
    offline_class(repo_root, klass, ["ok-1"])
    app = tasks.new_app(redis_url)
    worker = Worker(redis_url, tmp_path / "w.log", "-j", "1", "--name", "w@test")
    outcome: list[ClassResult] = []
    sender = threading.Thread(target=lambda: outcome.append(run_queued(
        [klass], "tp6", Options(lang="en"), tmp_path / "out", redis_url)))  # fmt: skip
    try:
        worker.wait_for("ready.")
        old = app.send_task(tasks.TASK, args=[{"name": "x", "version": "0.0.1+0123"}])
        answer = old.get(timeout=60)
        assert answer["refused"].startswith("w@test runs grader 0.1.0+")
        assert answer["refused"].endswith("this run needs 0.0.1+0123: install the same grader "
                                          "version on every worker")  # fmt: skip
        sender.start()
        worker.wait_for("ok-1: ")  # mid-task
        worker.proc.send_signal(signal.SIGTERM)  # warm shutdown: the task finishes first
        worker.proc.wait(timeout=120)
        sender.join(timeout=60)
        assert not sender.is_alive()
    finally:
        worker.stop()
        app.close()
    (result,) = outcome
    assert statuses(result) == {"ok-1": expected("ok-1")}
    assert "Warm shutdown" in worker.text()


@pytest.fixture
def online_second_engine(second_engine: PrivateEngine) -> Iterator[PrivateEngine]:
    """The second engine with NAT for its bridge: its builds reach PyPI, as the first's do."""
    rules = nat_rules(second_engine.bridge, second_engine.subnet, f"{second_engine.bridge}-nat")
    added = [rule for rule in rules if iptables("-A", rule)]
    try:
        assert len(added) == len(rules)
        yield second_engine
    finally:
        for rule in reversed(added):
            iptables("-D", rule)


def test_bundled_submissions_through_two_engines_get_their_golden_verdicts(
    repo_root: Path, tmp_path: Path, redis_url: str, online_second_engine: PrivateEngine
) -> None:
    klass = tmp_path / "class"
    for name in PARALLEL:
        shutil.copytree(repo_root / "submissions" / name, klass / name)
    workers = [
        Worker(redis_url, tmp_path / "a.log", "-j", "1", "--name", "a@test"),
        Worker(redis_url, tmp_path / "b.log", "-j", "1", "--name", "b@test",
               "--docker-host", online_second_engine.url),
    ]  # fmt: skip
    seen = Seen()
    try:
        for worker in workers:
            worker.wait_for("ready.")
        result = run_queued([klass], "tp6", Options(), tmp_path / "out", redis_url, seen)
    finally:
        for worker in workers:
            worker.stop()
    assert statuses(result) == {name: golden("tp6", name) for name in PARALLEL}
    built = {g.engine for g in seen.seen if g.report.submission != "tp6-no-dockerfile"}
    assert built == {MAIN, online_second_engine.url}  # both hosts built and ran some
    # each task's images went in its slot's clean-up thread, the last ones before it stopped
    left = Engine(online_second_engine.url)
    try:
        assert left.api.images(filters={"label": LABEL}) == []
        assert left.api.containers(all=True, filters={"label": LABEL}) == []
    finally:
        left.close()

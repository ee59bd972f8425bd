"""The queue's pure parts: task ids, the worker's Celery arguments, the bench's queue rows."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.gradearm import GradeRun
from bench.queuearm import busy_share, comparability, cpu_lines, queue_lines
from grader.classrun import stageslots, sweeper, tasks
from grader.classrun.worker import celery_argv, parser


def test_a_task_id_is_its_reuse_key_and_its_name() -> None:
    one = tasks.task_id("k" * 64, "alice")
    assert one == tasks.task_id("k" * 64, "alice")
    assert one.startswith("grade-" + "k" * 64 + "-")
    assert one != tasks.task_id("k" * 64, "bob")  # the same files handed in by two students
    assert one != tasks.task_id("j" * 64, "alice")


def test_the_worker_runs_twice_as_many_processes_as_stage_slots() -> None:
    args = parser().parse_args(["--queue", "redis://h:6379/0", "-j", "3", "--name", "w@h"])
    argv = celery_argv(args, 3)
    assert argv[0] == "worker"
    for part in ("--concurrency=6", "--pool=prefork", "--prefetch-multiplier=1",
                 f"--queues={tasks.QUEUE}", "--hostname=w@h", "--loglevel=WARNING"):  # fmt: skip
        assert part in argv
    assert tasks.SINGLE < tasks.CLASS  # Redis serves priority 0 first


def test_the_bench_rows_say_whether_each_target_is_met() -> None:
    run = {"seconds": 10.0, "all_s": [10.0, 9.0, 11.0], "graded": 4}
    lines = queue_lines({
        "slots": 2, "size": 4, "repeat": 3, "local": run,
        "one_worker": {"seconds": 10.4, "all_s": [10.4, 11.5, 10.1], "graded": 4},
        "two_engines": None, "queue_ratio": 1.04, "queue_target": 1.05,
        "engines_ratio": None, "engines_target": 0.6, "notes": ["no --second-engine"],
    })  # fmt: skip
    assert (
        "  one worker, -j 2: 10.4 s median of [10.4, 11.5, 10.1] (4 graded)  ratio 1.04 (ok),"
        " target <= 1.05" in lines
    )
    assert "  local -j 2: 10.0 s median of [10.0, 9.0, 11.0] (4 graded)" in lines
    assert "  two workers on two engines: -  ratio -, target <= 0.6" in lines
    assert lines[-1] == "  note: no --second-engine"


def test_the_bench_rotates_the_queue_arms_so_each_goes_first_in_turn() -> None:
    from bench.queuearm import arms_order

    arms = ["local", "one", "two"]
    assert [arms_order(r, arms)[0] for r in range(4)] == ["local", "one", "two", "local"]
    assert arms_order(1, ["local", "one"]) == ["one", "local"]


def test_stage_slots_hold_n_tasks_and_a_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    folder = stageslots.make(2)
    try:
        first, second = stageslots.acquire(str(folder)), stageslots.acquire(str(folder))
        assert (first.index, second.index) == (0, 1)  # each its own build cgroup slot
        third: list[stageslots.Token] = []
        waiter = threading.Thread(target=lambda: third.append(stageslots.acquire(str(folder))))
        waiter.start()
        time.sleep(0.3)
        assert not third  # both slots held: the third waits
        first.release()
        first.release()  # idempotent
        waiter.join(timeout=5)
        assert third and third[0].index == 0
        second.release()
        third[0].release()
        # a process killed while holding both slots leaves them free
        holder = subprocess.Popen([sys.executable, "-c", (
            "import sys, time; from grader.classrun import stageslots as s; "
            f"t = [s.acquire({str(folder)!r}) for _ in range(2)]; print('held', flush=True); "
            "time.sleep(60)")], stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
        freed = [stageslots.acquire(str(folder)) for _ in range(2)]
        for token in freed:
            token.release()
        assert stageslots.acquire(None).release() is None  # outside grade-worker: no slot
    finally:
        stageslots.remove(folder)
    assert not folder.exists()


def _class_run(statuses: list[dict[str, str]], exit_code: int = 0) -> GradeRun:
    reports = {
        f"student-{i}": {"checks": [{"id": c, "status": s} for c, s in checks.items()]}
        for i, checks in enumerate(statuses)
    }
    return GradeRun(1.0, exit_code, 1, ("grade",), Path("out"), reports=reports)


def test_the_bench_compares_the_arms_verdicts_with_each_other_not_with_no_error() -> None:
    graded = {"build.ok": "pass", "registry.push": "error"}
    same = [_class_run([graded, graded]) for _ in range(2)]
    notes = comparability({"local": same, "one": same}, 2)
    assert notes == [
        "2 check(s) in error in every run of every arm, the same ones (registry.push): the arms "
        "graded alike, their times compare"
    ]
    failed = {"build.ok": "fail", "registry.push": "error"}
    odd = [_class_run([graded, graded]), _class_run([graded, failed])]
    short = [_class_run([graded]), _class_run([graded, graded], exit_code=3)]
    notes = comparability({"local": same, "one": odd, "two": short}, 2)
    assert notes == [
        "one: 0 run(s) short of the class or failed, 1 run(s) whose verdicts differ from the "
        "other runs': its time is not comparable",
        "two: 2 run(s) short of the class or failed, 0 run(s) whose verdicts differ from the "
        "other runs': its time is not comparable",
    ]


def test_the_bench_says_how_far_shared_cores_let_two_engines_go() -> None:
    assert busy_share((1000, 400), (1200, 450)) == 0.75  # 50 idle ticks of 200
    assert busy_share((5, 5), (5, 5)) == 0.0
    queue = {
        "local": {"cpu_busy": 0.8},
        "one_worker": {"cpu_busy": 0.86},
        "two_engines": {"cpu_busy": 0.97},
        "engines_floor": 0.86,
    }
    assert cpu_lines(queue) == [
        "  CPU busy (all cores, median): local 80%, one worker 86%, two engines 97%; two "
        "engines on these cores cannot go below about 0.86 of one"
    ]
    assert cpu_lines({"local": None, "one_worker": None, "two_engines": None}) == []


class _Recording:
    """An engine that records what the sweeper asks of it (the sweeper's choice is tested)."""

    calls: list[tuple[str, str | None, list[str]]] = []

    def __init__(self, url: str | None) -> None:
        self.url = url

    def run_images(self, run_id: str, dead_too: bool = False) -> list[str]:
        self.calls.append(("list", run_id, []))
        return [f"left-by-{run_id}"]

    def sweep(self, run_id: str, images: set[str]) -> int:
        self.calls.append(("sweep", run_id, sorted(images)))
        return len(images)

    def close(self) -> None:
        pass


def test_a_slot_lists_the_engines_images_for_one_task_in_list_every(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sweeper, "Engine", _Recording)
    monkeypatch.setattr(sweeper, "_executor", None)
    _Recording.calls = []
    tasks_done = 2 * sweeper.LIST_EVERY
    for i in range(tasks_done):
        sweeper.later(None, f"run-{i}", [f"image-{i}"])
    sweeper.wait()
    listed = [run for kind, run, _ in _Recording.calls if kind == "list"]
    assert listed == [f"run-{sweeper.LIST_EVERY - 1}", f"run-{tasks_done - 1}"]
    swept = {run: images for kind, run, images in _Recording.calls if kind == "sweep"}
    assert len(swept) == tasks_done
    assert swept["run-0"] == ["image-0"]  # what its pipeline built, without a listing
    last = f"run-{tasks_done - 1}"
    assert swept[last] == sorted([f"image-{tasks_done - 1}", f"left-by-{last}"])

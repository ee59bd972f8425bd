"""The queue's pure parts: task ids, the worker's Celery arguments, the bench's queue rows."""

from __future__ import annotations

from bench.queuearm import queue_lines
from grader.classrun import tasks
from grader.classrun.worker import celery_argv, parser


def test_a_task_id_is_its_reuse_key_and_its_name() -> None:
    one = tasks.task_id("k" * 64, "alice")
    assert one == tasks.task_id("k" * 64, "alice")
    assert one.startswith("grade-" + "k" * 64 + "-")
    assert one != tasks.task_id("k" * 64, "bob")  # the same files handed in by two students
    assert one != tasks.task_id("j" * 64, "alice")


def test_the_worker_gives_one_prefetched_task_per_slot() -> None:
    args = parser().parse_args(["--queue", "redis://h:6379/0", "-j", "3", "--name", "w@h"])
    argv = celery_argv(args, 3)
    assert argv[0] == "worker"
    for part in ("--concurrency=3", "--pool=prefork", "--prefetch-multiplier=1",
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

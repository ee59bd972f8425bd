"""grader/labels.py: what an image carries (one label step) and whose run it is."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from grader.engine import Engine
from grader.labels import (
    LABEL,
    LABEL_OWNER,
    LABEL_RUN,
    LABEL_SUBMISSION,
    image_labels,
    live_pid,
    new_run_labels,
    on_this_host,
    owner_label,
    owner_of,
    run_of,
    start_time,
)


def test_an_image_carries_one_label_valued_with_its_run_and_the_owner() -> None:
    labels = {**new_run_labels(), LABEL_SUBMISSION: "alice"}
    built = image_labels(labels)
    assert built == {LABEL: f"{labels[LABEL_RUN]}@{labels[LABEL_OWNER]}"}
    assert image_labels({LABEL: "1"}) == {LABEL: "1"}  # no run: the label as given
    assert image_labels({}) == {}  # nothing to label: no label step at all


def test_owner_of_reads_a_container_and_an_image_alike() -> None:
    labels = new_run_labels()
    container = {**labels, LABEL_SUBMISSION: "alice"}
    assert owner_of(container) == owner_of(image_labels(labels)) == labels[LABEL_OWNER]
    assert owner_of({LABEL: "1"}) is None
    assert owner_of({"maintainer": "x"}) is None


def test_run_of_reads_a_container_and_an_image_alike() -> None:
    labels = new_run_labels()
    container = {**labels, LABEL_SUBMISSION: "alice"}
    assert run_of(container) == run_of(image_labels(labels)) == labels[LABEL_RUN]
    assert run_of({"maintainer": "x"}) is None


def test_the_sweep_of_a_run_takes_its_images_and_containers_only() -> None:
    labels = new_run_labels()
    run = labels[LABEL_RUN]
    assert Engine._sweepable(image_labels(labels), run)
    assert Engine._sweepable({**labels, LABEL_SUBMISSION: "a"}, run)
    other = new_run_labels()
    assert not Engine._sweepable(image_labels(other), run)


def test_the_sweep_of_dead_runs_reads_the_owner_of_an_image() -> None:
    dead = {**new_run_labels(), LABEL_OWNER: f"{socket.gethostname()}:{dead_pid()}"}
    assert Engine._sweepable(image_labels(dead), None)
    assert not Engine._sweepable(image_labels(new_run_labels()), None)  # this process: alive


def dead_pid() -> int:
    """A pid that runs no process now (the highest free one below the kernel's maximum)."""
    top = int(Path("/proc/sys/kernel/pid_max").read_text())
    return next(p for p in range(top - 1, 1, -1) if not Path(f"/proc/{p}").exists())


def test_a_live_owner_is_the_very_process_its_label_names() -> None:
    mine = owner_label()
    assert owner_label(os.getpid()) == mine
    assert live_pid(mine) == os.getpid()
    # the same pid with another start time: a dead run whose pid this process was given since
    host, _, ident = mine.rpartition(":")
    pid, _, start = ident.partition("-")
    assert live_pid(f"{host}:{pid}-{int(start) + 1}") is None
    assert live_pid(f"{host}:{pid}") == os.getpid()  # an earlier version's label: the pid alone
    assert live_pid(f"elsewhere.example:{pid}-{start}") is None
    assert not on_this_host(f"elsewhere.example:{pid}-{start}") and on_this_host(mine)


def test_an_exited_process_owns_nothing_any_more() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    label = owner_label(child.pid)
    assert live_pid(label) == child.pid
    child.communicate(b"")
    assert live_pid(label) is None
    assert start_time(child.pid) is None


def test_without_proc_the_pid_alone_says_whether_an_owner_runs(tmp_path: Path) -> None:
    """A host with no ``/proc`` (macOS): a live run's objects are never taken for a dead one's."""
    no_proc = str(tmp_path)
    mine = owner_label()
    assert live_pid(mine, no_proc) == os.getpid()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert live_pid(owner_label(child.pid), no_proc) is None

"""grader/engine/runbounds.py on a cgroup tree laid out as the kernel's (a folder): the one
parent name per set of limits, each RUN container's group limited as it appears, the parent's
backstop raised with the builds under way, whose RUN a group is, and nothing left after."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from grader.engine import cgroups, runbounds
from grader.engine.bounds import stopped_by
from grader.engine.runbounds import RUNS, bounded_runs, buildkit_parent
from tests.unit.test_cgroups_unit import as_cgroupfs, tree

LIMITS = (256 << 20, 128, 1.5)


@pytest.fixture(autouse=True)
def locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cgroups, "LOCKS", tmp_path / "locks")


def _int(path: Path) -> int:
    return int(path.read_text().split()[0])


def _run_group(fs: Path, parent: str, name: str) -> dict[str, Path]:
    """What runc does: the RUN container's group in every hierarchy, with the kernel's files."""
    groups = {}
    for hierarchy in ("memory", "pids", "cpu", "cpuset"):
        group = fs / hierarchy / parent.lstrip("/") / RUNS / name
        group.mkdir(parents=True, exist_ok=True)
        (group / "cgroup.procs").write_text("")
        groups[hierarchy] = group
    return groups


def _wait_for(path: Path, timeout_s: float = 5.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return _int(path)
        except (OSError, ValueError, IndexError):
            time.sleep(0.01)
    raise AssertionError(f"{path} never written")


def test_one_parent_per_set_of_limits() -> None:
    assert buildkit_parent(LIMITS) == "/docker-lab-grader/bk-256m-128p-1500mc"
    assert buildkit_parent((2 << 30, 1024, 2.0)) == "/docker-lab-grader/bk-2048m-1024p-2000mc"
    assert buildkit_parent(LIMITS) != buildkit_parent((256 << 20, 128, 2.0))


def test_each_run_group_is_limited_and_the_parent_capped(tmp_path: Path) -> None:
    fs = tree(tmp_path / "fs")
    parent = buildkit_parent(LIMITS).lstrip("/")
    with bounded_runs(LIMITS, fs) as build:
        assert build.parent == "/" + parent
        assert build.add_host.startswith(f"{runbounds.HOST}:127.")
        memory = fs / "memory" / parent
        assert _int(memory / "memory.limit_in_bytes") == 256 << 20  # one build: its limits
        assert _int(fs / "pids" / parent / "pids.max") == 128
        with bounded_runs(LIMITS, fs) as beside:  # two builds: the backstop is both
            assert beside.watcher is build.watcher
            assert _int(memory / "memory.limit_in_bytes") == 512 << 20
            assert _int(memory / "memory.memsw.limit_in_bytes") == 512 << 20
            assert _int(fs / "pids" / parent / "pids.max") == 256
            assert _int(fs / "cpu" / parent / "cpu.cfs_quota_us") == 300_000
            groups = _run_group(fs, parent, "abc123")
            assert _wait_for(groups["memory"] / "memory.limit_in_bytes") == 256 << 20
            assert _wait_for(groups["memory"] / "memory.memsw.limit_in_bytes") == 256 << 20
            assert _wait_for(groups["pids"] / "pids.max") == 128
            assert _wait_for(groups["cpu"] / "cpu.cfs_quota_us") == 150_000
            assert not (groups["cpuset"] / "pids.max").exists()  # not a limited hierarchy
            # the kernel's counters: the RUN reached its process limit
            (groups["pids"] / "pids.peak").write_text("128\n")
            (groups["pids"] / "pids.events").write_text("max 3\n")
            deadline = time.monotonic() + 5
            while "pids" not in build.at_limit() and time.monotonic() < deadline:
                time.sleep(0.01)
            # its hosts file could not be read: it counts for both builds under way
            assert build.at_limit() == beside.at_limit() == frozenset({"pids"})
            assert stopped_by(build, "exit code: 1") == "pids"
            assert stopped_by(build, None) is None
        assert _int(memory / "memory.limit_in_bytes") == 512 << 20  # never lowered
        as_cgroupfs(fs)
    assert not list(fs.glob(f"*/{parent}")), "the parent is left"
    assert not runbounds._watchers


def test_a_run_group_counts_for_its_own_build_only(tmp_path: Path) -> None:
    fs = tree(tmp_path / "fs")
    with bounded_runs(LIMITS, fs) as build, bounded_runs(LIMITS, fs) as other:
        assert build.marker != other.marker
        _run_group(fs, buildkit_parent(LIMITS).lstrip("/"), "xyz")
        deadline = time.monotonic() + 5
        while not build.runs() and time.monotonic() < deadline:
            time.sleep(0.01)
        (run,) = build.runs()
        run.marker = other.marker  # as read from the RUN container's /etc/hosts
        run.oom = True
        assert build.runs() == [] and build.at_limit() == frozenset()
        assert other.at_limit() == frozenset({"memory"})
        assert stopped_by(other, "did not complete successfully: exit code: 137") == "memory"
        as_cgroupfs(fs)


def test_a_parent_another_process_uses_is_kept(tmp_path: Path) -> None:
    fs = tree(tmp_path / "fs")
    parent = buildkit_parent(LIMITS).lstrip("/")
    other = runbounds._lock_shared(parent)  # another grading process (its own open file)
    try:
        with bounded_runs(LIMITS, fs):
            as_cgroupfs(fs)
        assert (fs / "memory" / parent).is_dir()
        assert cgroups.sweep_dead(fs) == 0  # the sweep keeps it too
    finally:
        import os

        os.close(other)
    assert cgroups.sweep_dead(fs) >= 1
    assert not list(fs.glob(f"*/{parent}"))

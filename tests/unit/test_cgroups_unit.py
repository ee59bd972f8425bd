"""grader/engine/cgroups.py and the bounds around it: sizes, the build API's parameters, a build's
group on a cgroup tree laid out as the kernel's (a folder), which bound a build ran into, the
sweep of dead processes' groups, and the lab's and command line's build limits."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from grader.cli.entry import parser
from grader.engine import cgroups
from grader.engine.bounds import BuildBounds, BuildLimits, stopped_by
from grader.engine.cgroups import BuildGroup
from grader.errors import LabFileError
from grader.grading.settings import Options, Settings
from grader.labels import process_ident
from grader.labs.spec import load_lab_file

LIMITS = (256 << 20, 128, 1.5)


def tree(root: Path, swap: bool = True) -> Path:
    """A cgroup v1 tree as the kernel shows it, enough for the grader: each hierarchy's
    ``cgroup.procs``, and the limit files it writes."""
    for name in ("memory", "pids", "cpu", "cpuset", "unified"):
        (root / name).mkdir(parents=True)
        (root / name / "cgroup.procs").write_text("")
    memory = root / "memory"
    (memory / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    if swap:
        (memory / "memory.memsw.limit_in_bytes").write_text("9223372036854771712\n")
    return root


def kernel_files(group: BuildGroup) -> None:
    """What the kernel adds to a new group (a folder here): its usage files."""
    memory = group.fs / "memory" / group.relative
    for name in ("memory.max_usage_in_bytes", "memory.memsw.max_usage_in_bytes"):
        (memory / name).write_text("0\n")
    pids = group.fs / "pids" / group.relative
    (pids / "pids.peak").write_text("0\n")
    (pids / "pids.events").write_text("max 0\n")


def as_cgroupfs(fs: Path) -> None:
    """On cgroupfs a group's files go with its folder (rmdir removes both): drop the files
    this folder holds below the grader's root, so that rmdir works as it does there."""
    for path in fs.glob(f"*/{cgroups.ROOT}/**/*"):
        if path.is_file():
            path.unlink()


def test_sizes_read_and_written() -> None:
    assert cgroups.size_bytes("2g") == 2 << 30
    assert cgroups.size_bytes("256M") == 256 << 20
    assert cgroups.size_bytes("1048576") == 1 << 20
    with pytest.raises(ValueError):
        cgroups.size_bytes("2 GB")
    assert cgroups.size_text(2 << 30) == "2 GiB"
    assert cgroups.size_text(256 << 20) == "256 MiB"
    assert cgroups.size_text(1536 << 20) == "1536 MiB"


def test_the_build_api_gets_memory_swap_cpu_and_the_group() -> None:
    params = cgroups.api_params(LIMITS, "/docker-lab-grader/p1-2/b1-ab")
    assert params == {
        "memory": str(256 << 20),
        "memswap": str(256 << 20),  # swap included: no swap beyond the memory limit
        "cpuperiod": "100000",
        "cpuquota": "150000",
        "cgroupparent": "/docker-lab-grader/p1-2/b1-ab",
    }
    bounds = BuildBounds(BuildLimits(256 << 20, 128, 1.5), None, ("pids",))
    assert "cgroupparent" not in bounds.api_params()
    assert BuildLimits().as_tuple() == cgroups.DEFAULT_LIMITS
    assert cgroups.DEFAULT_LIMITS[0] == cgroups.size_bytes(cgroups.DEFAULT_MEMORY)


def test_a_build_group_is_limited_and_removed_from_every_hierarchy(tmp_path: Path) -> None:
    fs = tree(tmp_path)
    assert cgroups.usable(fs) is None
    group = BuildGroup(LIMITS, fs)
    assert group.parent.startswith(f"/{cgroups.ROOT}/p{os.getpid()}-")
    memory = fs / "memory" / group.relative
    assert (memory / "memory.limit_in_bytes").read_text() == str(256 << 20)
    assert (memory / "memory.memsw.limit_in_bytes").read_text() == str(256 << 20)
    assert (fs / "pids" / group.relative / "pids.max").read_text() == "128"
    assert (fs / "cpu" / group.relative / "cpu.cfs_quota_us").read_text() == "150000"
    assert group.memsw
    # Docker makes the group in the other hierarchies too, and a RUN container's under it
    (fs / "cpuset" / group.relative / "c0ffee").mkdir(parents=True)
    (fs / "unified" / group.relative).mkdir(parents=True)
    as_cgroupfs(fs)
    assert group.remove()
    assert not list(fs.glob(f"*/{cgroups.ROOT}/*/*"))


def test_without_swap_accounting_the_group_says_so(tmp_path: Path) -> None:
    group = BuildGroup(LIMITS, tree(tmp_path, swap=False))
    assert not group.memsw
    as_cgroupfs(tmp_path)
    assert group.remove()


def test_no_writable_hierarchy_is_not_usable(tmp_path: Path) -> None:
    assert cgroups.usable(tmp_path) is not None  # no hierarchy at all (cgroup v2 only, a VM)


def test_the_bound_reached_is_read_from_the_group(tmp_path: Path) -> None:
    group = BuildGroup(LIMITS, tree(tmp_path))
    kernel_files(group)
    memory = group.fs / "memory" / group.relative
    pids = group.fs / "pids" / group.relative
    assert group.at_limit() == frozenset()
    killed = "The command '/bin/sh -c python3 big.py' returned a non-zero code: 137"
    assert stopped_by(group, killed) is None  # killed, yet not by the memory limit
    (memory / "memory.memsw.max_usage_in_bytes").write_text(str(256 << 20))
    assert group.at_limit() == {"memory"}
    assert stopped_by(group, killed) == "memory"
    # the limit reached by page cache alone, in a step that failed otherwise: not memory
    assert stopped_by(group, "returned a non-zero code: 1") is None
    assert stopped_by(group, None) is None  # built: nothing stopped it
    (memory / "memory.memsw.max_usage_in_bytes").write_text("0")
    (pids / "pids.peak").write_text("128")
    assert stopped_by(group, "returned a non-zero code: 2") == "pids"
    (pids / "pids.peak").write_text("3")
    (pids / "pids.events").write_text("max 5\n")
    assert stopped_by(group, "returned a non-zero code: 2") == "pids"
    as_cgroupfs(tmp_path)
    assert group.remove()
    # no group (an engine out of reach): a kill is the memory limit of each RUN container
    assert stopped_by(None, killed) == "memory"
    assert stopped_by(None, "returned a non-zero code: 2") is None


def test_the_groups_of_dead_processes_are_swept(tmp_path: Path) -> None:
    fs = tree(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    for hierarchy in ("memory", "pids", "cpuset"):
        (fs / hierarchy / cgroups.ROOT / f"p{dead.pid}-1" / "b1-aa" / "c0ffee").mkdir(parents=True)
    mine = BuildGroup(LIMITS, fs)
    # this process's pid with another start time: a dead run whose pid was given to this one
    pid, _, start = process_ident(os.getpid()).partition("-")
    reused = fs / "memory" / cgroups.ROOT / f"p{pid}-{int(start) + 1}"
    reused.mkdir()
    (fs / "memory" / cgroups.ROOT / "not-ours").mkdir()
    as_cgroupfs(fs)
    assert cgroups.sweep_dead(fs) == 4
    assert not list(fs.glob(f"*/{cgroups.ROOT}/p{dead.pid}-*"))
    assert not reused.exists()
    assert (fs / "memory" / mine.relative).is_dir()  # a live process's group stays
    assert (fs / "memory" / cgroups.ROOT / "not-ours").is_dir()
    assert cgroups.remove_own(fs)


def test_the_missing_bound_is_said_once(capfd: pytest.CaptureFixture[str]) -> None:
    cgroups._warned.discard("pids")
    cgroups.warn_once(("pids",), "the engine is not on this machine")
    cgroups.warn_once(("pids",), "the engine is not on this machine")
    err = capfd.readouterr().err
    assert err.count("warning: builds run without their pids bound") == 1


LAB = """\
schema_version = 1
id = "t"
title = "Test lab"

[app]
port = 8000

[limits]
{limits}

[checks."build.succeeds"]
points = 1
"""


def test_the_lab_sets_the_build_limits_and_flags_override_them(tmp_path: Path) -> None:
    path = tmp_path / "lab.toml"
    text = 'build_memory = "512m"\nbuild_pids = 200\nbuild_cpus = 0.5\nimage_limit_bytes = 10000000'
    path.write_text(LAB.format(limits=text), encoding="utf-8")
    lab = load_lab_file(path)
    settings = Settings.resolve(Options(), lab)
    assert settings.build_limits == BuildLimits(512 << 20, 200, 0.5)
    assert settings.image_limit_bytes == 10_000_000
    flags = Options(build_memory="1g", build_pids=300, build_cpus=2)
    assert Settings.resolve(flags, lab).build_limits == BuildLimits(1 << 30, 300, 2)
    default = tmp_path / "default.toml"
    default.write_text(LAB.format(limits=""), encoding="utf-8")
    assert Settings.resolve(Options(), load_lab_file(default)).build_limits == BuildLimits()


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('build_memory = "2 GB"', "limits.build_memory"),
        ('build_memory = "1m"', "limits.build_memory"),
        ("build_pids = 4", "limits.build_pids"),
        ("build_cpus = 0", "limits.build_cpus"),
        ("image_limit_bytes = 10", "limits.image_limit_bytes"),
        ("build_memmory = 1", "build_memmory"),
    ],
)
def test_wrong_build_limits_are_refused(tmp_path: Path, line: str, key: str) -> None:
    path = tmp_path / "lab.toml"
    path.write_text(LAB.format(limits=line), encoding="utf-8")
    with pytest.raises(LabFileError) as info:
        load_lab_file(path)
    assert key in str(info.value)


def test_the_build_flags_are_checked_when_parsed(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["--build-memory", "1g", "--build-pids", "64", "--build-cpus", "1"])
    assert (args.build_memory, args.build_pids, args.build_cpus) == ("1g", 64, 1.0)
    for wrong in ("2 GB", "10m"):
        with pytest.raises(SystemExit):
            parser().parse_args(["--build-memory", wrong])
        assert "is not a size of at least 64m" in capsys.readouterr().err


def test_a_refused_fork_in_the_failing_log_names_the_process_bound(tmp_path: Path) -> None:
    # BuildKit may remove a RUN container's group before its peak was read: the shell's,
    # Python's or Node's words for the refused fork then tell which bound stopped the build
    group = BuildGroup(LIMITS, tree(tmp_path))
    kernel_files(group)
    failed = 'process "/bin/sh -c for i in $(seq 3000)" did not complete successfully: exit code: 2'
    assert stopped_by(group, failed, "#6 0.571 /bin/sh: 0: Cannot fork\n") == "pids"
    assert stopped_by(group, failed, "#6 0.3 Error: spawn EAGAIN\n") == "pids"
    assert stopped_by(group, failed, "#6 0.3 npm ERR! missing script: build\n") is None
    assert stopped_by(group, None, "Cannot fork") is None  # built: nothing stopped it
    assert stopped_by(None, failed, "Cannot fork") is None  # no process bound was set

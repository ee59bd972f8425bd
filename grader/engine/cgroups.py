"""Bounded builds: a cgroup per build (memory, processes, CPU), read back and removed after.

Every build of a submission runs under a cgroup parent the grader creates (cgroup v1, the
engine's ``cgroupfs`` driver): ``/docker-lab-grader/p<pid>-<start>/b<n>-<hex>``, named after
the grading process so that the groups of a run that died are swept (``sweep_dead``). The
classic builder puts every RUN container under it (``POST /build?cgroupparent=``). Docker
creates the group in every other hierarchy; ``BuildGroup.remove`` removes it from all of them,
children first. BuildKit's builds share one parent instead (its cache keys count the parent),
each RUN container bounded on its own: ``grader.engine.runbounds``; the lock files here say
which grading processes use such a shared parent.

Standard library only, and none of its slower modules (no dataclasses): ``grader.engine.headstart``
creates the group of the build it sends ahead. ``grader.engine.bounds`` holds the bounds as
the rest of the grader passes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
import time
from pathlib import Path

from grader.labels import ident_runs, process_ident

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

CGROUP_FS = Path("/sys/fs/cgroup")
ROOT = "docker-lab-grader"
"""The grader's own sub-tree in each hierarchy."""
LIMITED = ("memory", "pids", "cpu")
"""The hierarchies the grader writes limits in (Docker creates the group in the others)."""
CFS_PERIOD_US = 100_000
DEFAULT_MEMORY = "4g"
"""Build memory, swap included: an honest pip or npm build of the labs peaks far below. Not
less: Node sizes V8's heap from the memory limit it sees (``uv_get_constrained_memory``), and
under 2 GiB an ``npm ci`` collects its heap three times as often as on an unbounded machine
(about 0.15 s more per build); from 4 GiB on, V8 sizes it as without a limit."""
DEFAULT_PIDS = 1024
DEFAULT_CPUS = 2.0
MEMORY_SLACK = 1 << 20
"""A peak this close to the memory limit means the limit was reached."""
REMOVE_WAIT_S = 10.0
"""Longest a build's group is waited for, once the build is over, to hold no process."""
SIZE = re.compile(r"(\d+)([kmg]?)")


def size_bytes(text: str) -> int:
    """``512m``, ``2g``, ``1048576`` as bytes (pure).

    Raises:
        ValueError: not a size.
    """
    match = SIZE.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a size like 512m")
    return int(match.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[match.group(2)]


def size_text(count: int) -> str:
    """Bytes as the largest whole unit: ``2 GiB``, ``256 MiB`` (pure)."""
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if count >= 1 << shift and count % (1 << shift) == 0:
            return f"{count >> shift} {unit}"
    return f"{count / (1 << 20):.1f} MiB" if count >= 1 << 20 else f"{count} B"


Limits = tuple[int, int, float]
"""Memory bytes (swap included), processes, CPU cores: what one build may use."""
DEFAULT_LIMITS: Limits = (4 << 30, DEFAULT_PIDS, DEFAULT_CPUS)


def api_params(limits: Limits, parent: str | None) -> dict[str, str]:
    """Query parameters of the classic builder's ``POST /build`` (pure): each RUN container
    limited as the whole group is (the only bounds a remote engine takes), under ``parent``."""
    memory, _, cpus = limits
    params = {
        "memory": str(memory),
        "memswap": str(memory),
        "cpuperiod": str(CFS_PERIOD_US),
        "cpuquota": str(int(cpus * CFS_PERIOD_US)),
    }
    if parent:
        params["cgroupparent"] = parent
    return params


def _process_dir(pid: int) -> str:
    return f"p{process_ident(pid)}"


def usable(fs: Path = CGROUP_FS) -> str | None:
    """None when this process can create limited groups in cgroup v1 here, else why not."""
    for name in LIMITED:
        hierarchy = fs / name
        if not (hierarchy / "cgroup.procs").exists():
            return f"no cgroup v1 {name} hierarchy at {hierarchy}"
        if not os.access(hierarchy, os.W_OK):
            return f"{hierarchy} is not writable"
    return None


def engine_refusal(info: Mapping[str, Any]) -> str | None:
    """None when the engine whose ``/info`` is ``info`` (on this machine) runs containers
    under cgroups of ours, and this process can make them; else why not."""
    if info.get("CgroupDriver") != "cgroupfs":
        return f"the engine's cgroup driver is {info.get('CgroupDriver')}, not cgroupfs"
    if str(info.get("CgroupVersion", "1")) != "1":
        return "cgroup v2 (only cgroup v1 groups are made)"
    if any("rootless" in str(o) for o in info.get("SecurityOptions") or []):
        return "a rootless engine"
    return usable()


def hierarchies(fs: Path = CGROUP_FS) -> list[Path]:
    """Every mounted hierarchy under ``fs`` (cgroup v1 ones and the unified one)."""
    try:
        return sorted(p for p in fs.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def _remove_tree(top: Path) -> bool:
    """rmdir ``top`` and the groups under it, children first; True when it is gone."""
    if not top.is_dir():
        return True
    for folder, _, _ in os.walk(top, topdown=False):
        with contextlib.suppress(OSError):  # still holds a process: left to the next sweep
            os.rmdir(folder)
    return not top.exists()


class BuildGroup:
    """One build's cgroup: created with its limits, read back, removed."""

    _count = 0

    def __init__(self, limits: Limits, fs: Path = CGROUP_FS) -> None:
        """Create the group in the limited hierarchies and write its limits.

        Raises:
            OSError: the group could not be created or limited.
        """
        BuildGroup._count += 1
        name = f"b{BuildGroup._count}-{os.urandom(3).hex()}"
        self.relative = f"{ROOT}/{_process_dir(os.getpid())}/{name}"
        self.fs = fs
        self.limits = limits
        self.memsw = False
        """True when swap is counted in the memory limit (swap accounting on)."""
        memory_bytes, pids, cpus = limits
        try:
            memory = self._make("memory")
            _write(memory / "memory.limit_in_bytes", memory_bytes)
            if (self.fs / "memory" / "memory.memsw.limit_in_bytes").exists():  # swap counted
                _write(memory / "memory.memsw.limit_in_bytes", memory_bytes)
                self.memsw = True
            _write(self._make("pids") / "pids.max", pids)
            cpu = self._make("cpu")
            _write(cpu / "cpu.cfs_period_us", CFS_PERIOD_US)
            _write(cpu / "cpu.cfs_quota_us", int(cpus * CFS_PERIOD_US))
        except OSError:
            self.remove()
            raise

    def _make(self, hierarchy: str) -> Path:
        path = self.fs / hierarchy / self.relative
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def parent(self) -> str:
        """The group as Docker's ``cgroupfs`` driver names a cgroup parent."""
        return "/" + self.relative

    def peaks(self) -> tuple[int | None, int | None]:
        """The most memory (bytes, swap included when counted) and processes the group held."""
        memory = self.fs / "memory" / self.relative
        peak = _read_int(memory / "memory.memsw.max_usage_in_bytes")
        if peak is None:
            peak = _read_int(memory / "memory.max_usage_in_bytes")
        return peak, _read_int(self.fs / "pids" / self.relative / "pids.peak")

    def at_limit(self) -> frozenset[str]:
        """The bounds the group's use reached, read from its files: ``memory`` (its peak at
        the limit: page cache counts too, so a kill must confirm it), ``pids`` (its peak at
        ``pids.max``, or a ``max`` event)."""
        memory, pids = self.peaks()
        found = set()
        if memory is not None and memory >= self.limits[0] - MEMORY_SLACK:
            found.add("memory")
        events = _read_events(self.fs / "pids" / self.relative / "pids.events")
        if (pids is not None and pids >= self.limits[1]) or events.get("max", 0) > 0:
            found.add("pids")
        return frozenset(found)

    def remove(self, wait_s: float = REMOVE_WAIT_S) -> bool:
        """Remove the group (and what Docker made under it) from every hierarchy; True when
        it is gone from all of them. A RUN container the engine is still killing (a build
        cancelled) holds its group a moment: waits up to ``wait_s`` for it."""
        deadline = time.monotonic() + wait_s
        while True:
            gone = True
            for hierarchy in hierarchies(self.fs):
                gone = _remove_tree(hierarchy / self.relative) and gone
                with contextlib.suppress(OSError):  # the process's folder, once empty
                    (hierarchy / self.relative).parent.rmdir()
            if gone or time.monotonic() > deadline:
                return gone
            time.sleep(0.1)


def _write(path: Path, value: int) -> None:
    path.write_text(str(value), encoding="ascii")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_events(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except OSError:
        return {}
    return {k: int(v) for k, _, v in (line.partition(" ") for line in lines) if v.isdigit()}


LOCKS = Path("/run/lock")
"""Where the lock files live that say which grading processes use a shared parent (``bk-*``:
``grader.engine.runbounds``, BuildKit's RUN containers)."""


def lock_path(relative: str) -> Path:
    """The lock file of the shared group ``relative`` (under the hierarchies)."""
    return LOCKS / f"{relative.replace('/', '+')}.lock"


def lock_alone(fd: int) -> bool:
    """True when no other process holds the lock file open as ``fd`` (now held exclusive)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _remove_unused(folder: Path) -> bool:
    """Remove the shared group ``folder`` unless a grading process holds its lock."""
    try:
        fd = os.open(lock_path(f"{ROOT}/{folder.name}"), os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return _remove_tree(folder)  # never locked
    try:
        return lock_alone(fd) and _remove_tree(folder)
    finally:
        os.close(fd)


def sweep_dead(fs: Path = CGROUP_FS) -> int:
    """Remove the groups of grading processes that are gone; how many process folders went."""
    removed = 0
    for hierarchy in hierarchies(fs):
        root = hierarchy / ROOT
        if not root.is_dir():
            continue
        for folder in root.iterdir():
            if folder.name.startswith("slot-"):  # an earlier version's: gone once unused
                removed += _remove_tree(folder)
                continue
            if folder.name.startswith("bk-"):  # BuildKit's parent: kept while a run uses it
                removed += _remove_unused(folder)
                continue
            if re.fullmatch(r"p\d+-\d+", folder.name) is None or ident_runs(folder.name[1:]):
                continue  # not ours, or its process still runs
            removed += _remove_tree(folder)
    return removed


def remove_own(fs: Path = CGROUP_FS) -> bool:
    """Remove every group of this process (e.g. of a build sent ahead by a test and never
    adopted nor abandoned); True when none is left."""
    return all(_remove_tree(h / ROOT / _process_dir(os.getpid())) for h in hierarchies(fs))


_warned: set[str] = set()


def warn_once(missing: tuple[str, ...], why: str) -> None:
    """Say on stderr, once per process and bound, which build bound is not enforced."""
    new = [bound for bound in missing if bound not in _warned]
    if new:
        _warned.update(new)
        # the process's own stderr: a class run grades inside pytest, which captures sys.stderr
        stream = sys.__stderr__ or sys.stderr
        stream.write(f"warning: builds run without their {', '.join(new)} bound: {why}\n")
        stream.flush()

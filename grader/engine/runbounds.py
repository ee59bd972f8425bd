"""BuildKit's RUN containers bounded one by one under a cgroup parent that never changes.

BuildKit counts a RUN step's cgroup parent in its cache key, so a parent per build (or per
slot) splits the cache. Every BuildKit build of a machine is therefore sent with one parent
per set of limits, ``/docker-lab-grader/bk-<memory>m-<pids>p-<millicores>mc``
(``buildkit_parent``): the same in every run, so the dependency layers are built once. The
engine (Engine 26, cgroupfs) runs each RUN container in ``<parent>/buildkit/<id>``; a watcher
thread (inotify, ``IN_CREATE`` on that folder in the memory, pids and cpu hierarchies) writes
the build's limits into each RUN container's own group the moment runc makes it, before the
step's command starts (measured: docs/security-builds.md). The parent itself is capped at the
sum of the builds under way (the backstop for the instant before a RUN's limits land).

The watcher runs while a build of this process needs it (``bounded_runs``, reference-counted)
and is stopped, its group removed, after the last one; a lock file keeps another grading
process from removing a parent it still uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import select
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from inotify_simple import INotify, flags

from grader.engine import cgroups
from grader.engine.cgroups import (
    CFS_PERIOD_US,
    CGROUP_FS,
    LIMITED,
    MEMORY_SLACK,
    ROOT,
    Limits,
    lock_alone,
    lock_path,
)

RUNS = "buildkit"
"""The folder under the cgroup parent where the engine puts each RUN container's group."""
POLL_S = 0.02
"""How often the watcher reads the peaks of the RUN groups alive."""
HOST = "docker-lab-grader-build"
"""The host name each build adds to its RUN containers' ``/etc/hosts`` (``--add-host``), on
a loopback address of its own: BuildKit leaves the address out of its cache keys, and the
watcher reads it back to tell whose a RUN container is."""
UNLIMITED = 1 << 62
"""A memory limit at least this large is none."""
WATCHED = flags.CREATE | flags.DELETE | flags.ONLYDIR


def buildkit_parent(limits: Limits) -> str:
    """The cgroup parent every BuildKit build under ``limits`` is sent with (pure): one name
    per set of limits, so that BuildKit's cache keys are the same from build to build."""
    memory, pids, cpus = limits
    return f"/{ROOT}/bk-{memory >> 20}m-{pids}p-{round(cpus * 1000)}mc"


class RunGroup:
    """What the watcher saw of one RUN container's group."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created = time.monotonic()
        self.gone: float | None = None
        self.memory = 0
        """Highest memory + swap seen (bytes)."""
        self.pids = 0
        """Most processes seen at once."""
        self.oom = False
        """The kernel's OOM killer acted in the group (its eventfd told)."""
        self.pids_max = False
        """A fork was refused by the group's ``pids.max`` (``pids.events``)."""
        self.oom_fd: int | None = None
        self.marker: str | None = None
        """The build's loopback address in the RUN container's ``/etc/hosts``, once read."""


class RunWatcher:
    """The limits of every RUN container under one parent, written as each one starts."""

    def __init__(self, limits: Limits, fs: Path = CGROUP_FS) -> None:
        self.limits = limits
        self.fs = fs
        self.parent = buildkit_parent(limits)
        self.relative = self.parent.lstrip("/")
        self.groups: dict[str, RunGroup] = {}
        self.swap = (fs / "memory" / "memory.memsw.limit_in_bytes").exists()
        """Swap is counted (the memory limits include it)."""
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        """Written by ``close``: the watcher stops without waiting for its next poll."""
        self._lockfile = _lock_shared(self.relative)
        self._inotify = INotify()
        self._watches: dict[int, str] = {}
        try:
            for hierarchy in LIMITED:
                runs = fs / hierarchy / self.relative / RUNS
                runs.mkdir(parents=True, exist_ok=True)
                self._watches[self._inotify.add_watch(str(runs), WATCHED)] = hierarchy
        except OSError:
            self.close()
            raise
        self._thread = threading.Thread(target=self._loop, name="run-bounds", daemon=True)
        self._thread.start()

    def backstop(self, builds: int) -> None:
        """Cap the parent at ``builds`` builds' limits (raised only: another grading process
        may use it too)."""
        memory, pids, cpus = self.limits
        for hierarchy in LIMITED:
            (self.fs / hierarchy / self.relative).mkdir(parents=True, exist_ok=True)
        group = self.fs / "memory" / self.relative
        total, current = memory * builds, _read_int(group / "memory.limit_in_bytes") or 0
        names = ["memory.limit_in_bytes"]
        if self.swap:
            names.append("memory.memsw.limit_in_bytes")  # never below memory.limit_in_bytes
        if current >= UNLIMITED:  # new: lowered, memory first
            for name in names:
                _write(group / name, total)
        elif current < total:  # raised: memory + swap first
            for name in reversed(names):
                _write(group / name, total)
        _raise(self.fs / "pids" / self.relative / "pids.max", pids * builds)
        cpu = self.fs / "cpu" / self.relative
        _write(cpu / "cpu.cfs_period_us", CFS_PERIOD_US)
        _raise(cpu / "cpu.cfs_quota_us", int(cpus * CFS_PERIOD_US) * builds)

    def _bound(self, hierarchy: str, name: str) -> None:
        """Write the build's limits into the new RUN group ``name`` of ``hierarchy``."""
        memory, pids, cpus = self.limits
        group = self._path(hierarchy, name)
        run = self.groups.setdefault(name, RunGroup(name))
        try:
            if hierarchy == "memory":
                _write(group / "memory.limit_in_bytes", memory)
                if self.swap:
                    _write(group / "memory.memsw.limit_in_bytes", memory)
                run.oom_fd = _oom_eventfd(group)
            elif hierarchy == "pids":
                _write(group / "pids.max", pids)
            else:
                _write(group / "cpu.cfs_period_us", CFS_PERIOD_US)
                _write(group / "cpu.cfs_quota_us", int(cpus * CFS_PERIOD_US))
        except OSError as exc:  # gone already (a step of a few ms): nothing left to bound
            if group.exists():
                self.errors.append(f"{hierarchy}/{name}: {exc}")

    def _loop(self) -> None:
        while not self._stop.is_set():
            fds = [self._inotify.fileno(), self._wake]
            with self._lock:
                live = [g for g in self.groups.values() if g.gone is None]
            fds += [g.oom_fd for g in live if g.oom_fd is not None]
            # nothing to sample while no RUN step runs: asleep until one starts (or the stop)
            ready, _, _ = select.select(fds, [], [], POLL_S if live else None)
            with self._lock:
                for run in live:  # before the removals: an OOM kill is followed by one
                    if run.oom_fd is not None and run.oom_fd in ready:
                        self._oom_event(run)
                    self._sample(run)
                if self._inotify.fileno() in ready:
                    for event in self._inotify.read(timeout=0):
                        hierarchy = self._watches.get(event.wd)
                        if hierarchy is None or not event.name:
                            continue
                        if event.mask & flags.CREATE:
                            self._bound(hierarchy, event.name)
                        elif hierarchy == "memory" and event.name in self.groups:
                            self._close(self.groups[event.name])

    def _oom_event(self, run: RunGroup) -> None:
        """The group's eventfd fired: an OOM kill, or the group's removal (also signalled)."""
        assert run.oom_fd is not None
        try:
            count = os.eventfd_read(run.oom_fd)
        except OSError:
            return
        run.oom = run.oom or count >= 2 or self._path("memory", run.name).exists()

    def _path(self, hierarchy: str, name: str) -> Path:
        return self.fs / hierarchy / self.relative / RUNS / name

    def _sample(self, run: RunGroup) -> None:
        if run.marker is None:
            run.marker = self._marker(run.name)
        memory = self._path("memory", run.name)
        peak = _read_int(memory / "memory.memsw.max_usage_in_bytes")
        peak = peak if peak is not None else _read_int(memory / "memory.max_usage_in_bytes")
        run.memory = max(run.memory, peak or 0)
        oom = _read_events(memory / "memory.oom_control").get("oom_kill", 0)
        run.oom = run.oom or oom > 0
        pids = self._path("pids", run.name)
        run.pids = max(run.pids, _read_int(pids / "pids.peak") or 0)
        run.pids_max = run.pids_max or _read_events(pids / "pids.events").get("max", 0) > 0

    def _marker(self, name: str) -> str | None:
        """The build's address in the hosts file of the RUN container ``name`` (read through
        one of its processes, once its root is the container's)."""
        try:
            pids = (self._path("pids", name) / "cgroup.procs").read_text(encoding="ascii")
        except OSError:
            return None
        for pid in pids.split()[:4]:
            try:
                with open(f"/proc/{pid}/root/etc/hosts", encoding="utf-8") as hosts:
                    for line in hosts:
                        fields = line.split()
                        if len(fields) >= 2 and HOST in fields[1:]:
                            return fields[0]
            except (OSError, UnicodeDecodeError):
                continue
        return None

    def _close(self, run: RunGroup) -> None:
        if run.gone is None:
            run.gone = time.monotonic()
        if run.oom_fd is not None:
            with contextlib.suppress(OSError):
                os.close(run.oom_fd)
            run.oom_fd = None

    def runs_of(self, marker: str, start: float, end: float) -> list[RunGroup]:
        """The RUN groups of the build with ``marker``; a RUN container gone before its
        hosts file could be read counts for every build under way when it was made."""
        with self._lock:
            return [
                g
                for g in self.groups.values()
                if start <= g.created <= end and g.marker in (marker, None)
            ]

    def close(self) -> bool:
        """Stop watching; remove the parent (every hierarchy) unless another grading process
        still uses it. True when nothing of this process is left."""
        self._stop.set()
        os.eventfd_write(self._wake, 1)
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join()
        with self._lock:
            for run in self.groups.values():
                self._close(run)
        self._inotify.close()
        os.close(self._wake)
        gone = True
        if lock_alone(self._lockfile):  # no other grading process uses the parent
            gone = all(
                cgroups._remove_tree(h / self.relative) for h in cgroups.hierarchies(self.fs)
            )
        os.close(self._lockfile)
        return gone


def _oom_eventfd(group: Path) -> int | None:
    """An eventfd the kernel signals when the OOM killer acts in ``group`` (cgroup v1)."""
    efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
    try:
        control = os.open(group / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        try:
            (group / "cgroup.event_control").write_text(f"{efd} {control}", encoding="ascii")
        finally:
            os.close(control)
    except OSError:
        os.close(efd)
        return None
    return efd


def _lock_shared(relative: str) -> int:
    """A shared lock that says this process uses the parent (held until ``_lock_alone``)."""
    path = lock_path(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


_builds = itertools.count(1)


class RunBuild:
    """One BuildKit build's view of the RUN groups the watcher bounded while it ran."""

    def __init__(self, watcher: RunWatcher) -> None:
        self.watcher = watcher
        self.limits = watcher.limits
        self.parent = watcher.parent
        """The cgroup parent to send the build with (``--cgroup-parent``, ``cgroupparent``)."""
        token = (os.getpid() << 12 | next(_builds) & 0xFFF) % 0xFFFFFE + 1
        self.marker = f"127.{token >> 16 & 255}.{token >> 8 & 255}.{token & 255}"
        self.add_host = f"{HOST}:{self.marker}"
        """The host to add to the build's RUN containers (``--add-host``, ``extrahosts``)."""
        self.missing: tuple[str, ...] = () if watcher.swap else ("swap",)
        """Bounds not enforced (as ``BuildBounds.missing``)."""
        self.start = time.monotonic()
        self.end: float | None = None

    def runs(self) -> list[RunGroup]:
        """The RUN groups of this build the watcher saw."""
        return self.watcher.runs_of(self.marker, self.start, self.end or time.monotonic())

    def running(self) -> bool:
        """True while a RUN container of this build runs (its group not yet removed)."""
        return any(run.gone is None for run in self.runs())

    def peaks(self) -> tuple[int | None, int | None]:
        """The most memory and processes one RUN container of the build held."""
        runs = self.runs()
        if not runs:
            return None, None
        return max(r.memory for r in runs), max(r.pids for r in runs)

    def at_limit(self) -> frozenset[str]:
        """The bounds a RUN group made during the build reached (see ``BuildGroup.at_limit``)."""
        found = set()
        for run in self.runs():
            if run.oom or run.memory >= self.limits[0] - MEMORY_SLACK:
                found.add("memory")
            if run.pids_max or run.pids >= self.limits[1]:
                found.add("pids")
        return frozenset(found)


_watchers: dict[tuple[Path, str], tuple[RunWatcher, int]] = {}
_watchers_lock = threading.Lock()


@contextlib.contextmanager
def bounded_runs(limits: Limits, fs: Path = CGROUP_FS) -> Iterator[RunBuild]:
    """Bound every RUN container of the BuildKit build made inside (sent with
    ``RunBuild.parent`` as its cgroup parent) by ``limits``, each on its own.

    Raises:
        OSError: the groups could not be made or watched.
    """
    key = (fs, buildkit_parent(limits))
    with _watchers_lock:
        watcher, users = _watchers.get(key) or (RunWatcher(limits, fs), 0)
        try:
            watcher.backstop(users + 1)
        except OSError:
            if not users:
                watcher.close()
            raise
        _watchers[key] = (watcher, users + 1)
    build = RunBuild(watcher)
    try:
        yield build
    finally:
        build.end = time.monotonic()
        with _watchers_lock:
            watcher, users = _watchers[key]
            if users > 1:
                _watchers[key] = (watcher, users - 1)
            else:
                del _watchers[key]
                watcher.close()


def _write(path: Path, value: int) -> None:
    path.write_text(str(value), encoding="ascii")


def _raise(path: Path, value: int) -> None:
    """Write ``value`` unless the file already holds a limit at least as high."""
    current = _read_int(path)
    if current is None or current < 0 or current < value or current >= UNLIMITED:
        _write(path, value)


_read_int = cgroups._read_int
_read_events = cgroups._read_events

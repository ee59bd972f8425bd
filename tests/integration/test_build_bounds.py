"""Hostile builds (issue 15, items 1 and 4): memory, processes, endless output and a layer of
over a GB, each held by its bound as the host sees it (cgroup files and the process table,
polled while ``grade`` runs as a child process), the next student graded normally, and no
cgroup, container or image left behind."""

from __future__ import annotations

import contextlib
import json
import re
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.engine import Engine, cgroups, runbounds
from tests.integration.conftest import tp6_lab_with

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MEMORY = 256 << 20
PIDS = 128
LAB_LIMITS = f'build_memory = "256m"\nbuild_pids = {PIDS}\nimage_limit_bytes = 600000000'
HOSTILE = {
    # ~1 GiB written in memory: the kernel kills it at 256 MiB
    "memory": "FROM python:3.11-slim\nRUN python3 -c \"b = b'x' * (1 << 30); print(len(b))\"\n",
    # 3000 processes asked for at once: the 129th cannot start; the step then holds its 128
    # for 3 s (the forking subshell gone, a sleep in its place), so the host's poller sees the
    # group at its limit before BuildKit removes it; the step fails as the subshell did
    "forks": "FROM python:3.11-slim\n"
    "RUN (for i in $(seq 3000); do sleep 47 & done; wait); s=$?; sleep 3; exit $s\n",
    # output as fast as the builder streams it, for 20 s, then a failed step
    "output": "FROM python:3.11-slim\nRUN timeout 20 yes; exit 1\n",
    # a layer of 1.2 GB under a last step: built, never run, removed at once with that layer
    "layer": 'FROM python:3.11-slim\nRUN head -c 1200000000 /dev/zero > /big.bin\nCMD ["true"]\n',
}


@dataclass
class Seen:
    """What the poller saw of the grader's build cgroups and their processes."""

    memory: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Group -> (limit, highest peak of memory+swap)."""
    pids: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Group -> (pids.max, most processes at once: pids.current, pids.peak)."""
    processes: dict[str, int] = field(default_factory=dict)
    """Group -> most processes the host's process table put in it at once."""


def _int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _poll(pid: int, stop: threading.Event, seen: Seen) -> None:
    """Read the build groups of grading process ``pid`` until ``stop``: its own (``p<pid>-…/b…``,
    the classic builder's) and BuildKit's RUN containers' (``bk-…/buildkit/<id>``: one parent
    for every build, so that BuildKit's cache holds, each RUN container bounded on its own;
    this test runs alone on the machine's BuildKit parents)."""
    fs = cgroups.CGROUP_FS
    pattern = re.compile(
        rf"\d+:pids:/{cgroups.ROOT}/(?:p{pid}-\d+/|bk-[\w-]+/{runbounds.RUNS}/)([\w-]+)"
    )
    globs = (f"p{pid}-*/b*/", f"bk-*/{runbounds.RUNS}/*/")
    while not stop.is_set():
        for group in (g for pat in globs for g in (fs / "memory" / cgroups.ROOT).glob(pat)):
            limit = _int(group / "memory.memsw.limit_in_bytes")
            peak = _int(group / "memory.memsw.max_usage_in_bytes")
            if limit is not None and peak is not None:
                # a RUN container's group is limited a moment after runc makes it, before
                # its command starts: the limit it ran under is the lowest seen
                low, old = seen.memory.get(group.name, (limit, 0))
                seen.memory[group.name] = (min(low, limit), max(old, peak))
        for group in (g for pat in globs for g in (fs / "pids" / cgroups.ROOT).glob(pat)):
            most = max(_int(group / "pids.current") or 0, _int(group / "pids.peak") or 0)
            limit = _int(group / "pids.max")
            if limit is not None:
                seen.pids[group.name] = (limit, max(seen.pids.get(group.name, (0, 0))[1], most))
        counts: dict[str, int] = {}
        for proc in Path("/proc").glob("[0-9]*/cgroup"):
            try:
                found = pattern.search(proc.read_text())
            except OSError:
                continue
            if found:
                counts[found.group(1)] = counts.get(found.group(1), 0) + 1
        for group, count in counts.items():
            seen.processes[group] = max(seen.processes.get(group, 0), count)
        time.sleep(0.02)


def _oom_killed_in(groups: Iterable[str], since: float) -> bool:
    """The kernel's log (``dmesg``) records an OOM kill, after ``since``, in one of the memory
    cgroups named ``groups`` (the last part of their path)."""
    uptime = float(Path("/proc/uptime").read_text().split()[0]) - (time.time() - since)
    try:
        log = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    names = set(groups)
    for line in log.splitlines():
        found = re.match(r"\[\s*([\d.]+)\] oom-kill:.*\boom_memcg=(\S+?),", line)
        if found and float(found.group(1)) >= uptime and found.group(2).rsplit("/", 1)[-1] in names:
            return True
    return False


def grade_polled(folder: Path, lab: Path, out: Path, *options: str) -> tuple[str, Seen, int]:
    """``grade`` on a class as a child process (English, ``options`` added), its build groups
    polled from the host while it runs; its output, what the poller saw and its pid. It must
    exit 0."""
    command = [sys.executable, "-m", "grader", str(folder), "--lab", str(lab)]
    command += ["--output", str(out), "--lang", "en", *options]
    grader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen, stop = Seen(), threading.Event()
    poller = threading.Thread(target=_poll, args=(grader.pid, stop, seen))
    poller.start()
    try:
        output, _ = grader.communicate(timeout=600)
    finally:
        stop.set()
        poller.join()
    text = output.decode(errors="replace")
    assert grader.returncode == 0, text[-3000:]
    return text, seen, grader.pid


def _report(out: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return data


def _check(report: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["id"] == check_id)


def test_hostile_builds_are_held_by_their_bounds(
    repo_root: Path, tmp_path: Path, engine: Engine, leftovers: Callable[[], Any]
) -> None:
    started = time.time()
    nonce = uuid.uuid4().hex[:12]
    for name, dockerfile in HOSTILE.items():
        folder = tmp_path / "class" / name
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text(f"{dockerfile}# {nonce}\n", encoding="utf-8")
    shutil.copytree(repo_root / "submissions" / "tp6-ok", tmp_path / "class" / "zz-honest")
    lab = tp6_lab_with(repo_root, tmp_path, LAB_LIMITS)
    out = tmp_path / "reports"
    _, seen, pid = grade_polled(tmp_path / "class", lab, out, "-j", "2")

    # the host's view: every build (classic) or RUN container (BuildKit) ran in a group of its
    # own (a build from the cache can end between two polls), none went past its bounds
    assert len(seen.memory) >= 3, seen
    assert all(limit == MEMORY and peak <= MEMORY for limit, peak in seen.memory.values()), seen
    # the hog reached its limit: a peak at it, or the kernel's own record of the OOM kill in
    # that group (BuildKit removes a RUN container's group at once, sometimes between polls)
    at_limit = any(peak >= MEMORY - (1 << 20) for _, peak in seen.memory.values())
    assert at_limit or _oom_killed_in(seen.memory, since=started), seen
    assert all(limit == PIDS and most <= PIDS for limit, most in seen.pids.values()), seen
    assert any(most == PIDS for _, most in seen.pids.values()), seen
    assert seen.processes and max(seen.processes.values()) <= PIDS, seen
    # the grader's own memory stayed small while a build streamed output for 20 s
    peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert peak_rss_mb < 400, peak_rss_mb

    build = {name: _check(_report(out, name), "build.succeeds") for name in HOSTILE}
    assert all(b["status"] == "failed" for b in build.values()), build
    assert "killed by its memory limit, 256 MiB" in build["memory"]["message"]
    assert f"reached its limit of {PIDS} processes" in build["forks"]["message"]
    assert re.search(r"1[34]\d\d MB, more than the 600 MB allowed", build["layer"]["message"])
    assert _check(_report(out, "layer"), "run.starts")["status"] == "not_run"
    output_report = out / "output" / "report.json"
    assert output_report.stat().st_size < 400_000
    assert len(_report(out, "output")["build_log"]) < 70_000  # the lab's 64 000 characters

    honest = _report(out, "zz-honest")
    statuses = {c["id"]: c["status"] for c in honest["checks"]}
    assert statuses["build.succeeds"] == "passed" and statuses["http.root_status"] == "passed"
    assert not honest.get("notes")

    # nothing left: groups (every hierarchy), build containers and their processes, images
    fs = cgroups.CGROUP_FS
    assert not list(fs.glob(f"*/{cgroups.ROOT}/p{pid}-*")), "cgroups left"
    assert not list(fs.glob(f"*/{cgroups.ROOT}/bk-256m-{PIDS}p-*")), "BuildKit's parent left"
    assert leftovers() == ([], [])
    images = engine.api.images(all=True)  # the layer under the last step too, untagged
    assert not [i for i in images if i["Size"] > 1.2e9 and i["Created"] >= started - 1]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert not [line for line in ps.stdout.splitlines() if line.startswith(("yes", "sleep 47"))]


class Forwarder:
    """``tcp://127.0.0.1:PORT`` to the engine's unix socket: an engine that is not on this
    machine as far as the grader can tell (its cgroups are out of reach)."""

    def __init__(self, target: str = "/var/run/docker.sock") -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX)
            self.sockets += [client, engine]
            engine.connect(self.target)
            for a, b in ((client, engine), (engine, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.server.close()
        for sock in self.sockets:
            sock.close()


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_an_engine_out_of_reach_says_which_bound_is_missing(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any], builder: str
) -> None:
    """No cgroup can be made for a remote engine: the classic builder still bounds memory and
    CPU RUN step by RUN step (through the build API); BuildKit takes no per-build limit but a
    cgroup parent, so its builds have none. Either way the run says it once, each report too."""
    folder = tmp_path / "class" / "memory"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(HOSTILE["memory"] + f"# {tmp_path.name}\n")
    shutil.copytree(repo_root / "submissions" / "tp6-ok", tmp_path / "class" / "zz-honest")
    lab = tp6_lab_with(repo_root, tmp_path, LAB_LIMITS)
    out = tmp_path / "reports"
    forwarder = Forwarder()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "grader", str(tmp_path / "class"), "--lab", str(lab)]
            + ["--output", str(out), "--lang", "en", "-j", "1"]
            + ["--docker-host", f"tcp://127.0.0.1:{forwarder.port}", "--builder", builder],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        forwarder.close()
    assert done.returncode == 0, done.stderr[-3000:]
    # said once for the run, in each report's notes
    missing = "pids" if builder == "classic" else "memory, pids, cpu"
    warning = f"warning: builds run without their {missing} bound"
    assert done.stderr.count(warning) == 1, done.stderr
    for name in ("memory", "zz-honest"):
        notes = _report(out, name)["notes"]
        assert any(f"not bounded in {missing}" in note for note in notes), notes
    build = _check(_report(out, "memory"), "build.succeeds")
    if builder == "classic":  # memory is still bounded, RUN step by RUN step, by the build API
        assert "killed by its memory limit, 256 MiB" in build["message"], build
    else:  # nothing bounds it: the 1 GiB step runs to its end (this machine has 24 GiB)
        assert build["status"] == "passed", build
    honest = {c["id"]: c["status"] for c in _report(out, "zz-honest")["checks"]}
    assert honest["build.succeeds"] == "passed" and honest["http.root_status"] == "passed"
    assert leftovers() == ([], [])

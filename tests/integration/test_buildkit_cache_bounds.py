"""BuildKit's builds share their cache and stay bounded one by one (issue 15, "cost nothing"):
two submissions graded by two grading processes, the second one's dependency install comes
from the cache the first one filled, while every RUN container of the class (a memory hog
and a fork loop graded beside the first) ran in a group of its own with the build's limits,
as the host sees it."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.engine import cgroups
from tests.integration.conftest import tp6_lab_with
from tests.integration.test_build_bounds import (
    HOSTILE,
    LAB_LIMITS,
    MEMORY,
    PIDS,
    Seen,
    _check,
    _oom_killed_in,
    _report,
    grade_polled,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

INSTALL = "RUN pip install --no-cache-dir -r requirements.txt"


def _grade(folder: Path, lab: Path, out: Path, jobs: int) -> tuple[str, Seen]:
    """``grade`` on a class with BuildKit, as a child process, its RUN groups polled."""
    output, seen, _ = grade_polled(folder, lab, out, "-j", str(jobs), "--builder", "buildkit")
    return output, seen


def _install_step(log: str) -> list[str]:
    """The lines of the build log about the dependency install step (its vertex's lines)."""
    number = re.search(rf"^(#\d+) \[[^\]]*\] {re.escape(INSTALL)}$", log, re.MULTILINE)
    assert number is not None, log[-3000:]
    return [line for line in log.splitlines() if line.startswith(number.group(1) + " ")]


def test_buildkit_builds_share_the_cache_and_each_run_is_bounded(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any]
) -> None:
    started = time.time()
    nonce = uuid.uuid4().hex[:12]
    lab = tp6_lab_with(repo_root, tmp_path, LAB_LIMITS)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, name in ((first, "deps-1"), (second, "deps-2")):
        student = folder / name
        shutil.copytree(repo_root / "submissions" / "tp6-ok", student)
        # the same dependencies, never built before this test; a different app
        with (student / "requirements.txt").open("a", encoding="utf-8") as deps:
            deps.write(f"# {nonce}\n")
        with (student / "app.py").open("a", encoding="utf-8") as app:
            app.write(f"# {name}\n")
    for name in ("memory", "forks"):  # graded beside the first
        (first / name).mkdir()
        (first / name / "Dockerfile").write_text(f"{HOSTILE[name]}# {nonce}\n", "utf-8")

    _, seen = _grade(first, lab, tmp_path / "out-1", jobs=2)
    _, seen_again = _grade(second, lab, tmp_path / "out-2", jobs=1)

    # the cache: the first student's install ran, the second one's (another process) did not
    log_1 = _report(tmp_path / "out-1", "deps-1")["build_log"]
    log_2 = _report(tmp_path / "out-2", "deps-2")["build_log"]
    assert any("Collecting" in line for line in _install_step(log_1)), log_1[-3000:]
    assert any(line.endswith(" CACHED") for line in _install_step(log_2)), log_2[-3000:]
    for out, name in ((tmp_path / "out-1", "deps-1"), (tmp_path / "out-2", "deps-2")):
        statuses = {c["id"]: c["status"] for c in _report(out, name)["checks"]}
        assert statuses["build.succeeds"] == "passed", statuses
        assert statuses["http.root_status"] == "passed", statuses

    # the host's view: every RUN container had its own group with the build's limits
    # (the memory hog's, the fork loop's, the installs', useradd's...)
    for view in (seen, seen_again):
        assert view.memory and view.pids, view
        assert all(limit == MEMORY and peak <= MEMORY for limit, peak in view.memory.values())
        assert all(limit == PIDS and most <= PIDS for limit, most in view.pids.values()), view
        assert max(view.processes.values()) <= PIDS, view
    assert len(seen.memory) >= 4, seen  # hog, fork loop, install, useradd (and the probe's)
    # the hog reached its limit: a peak at it, or the kernel's record of the OOM kill in its
    # group (BuildKit removes a RUN container's group at once, sometimes between two polls)
    at_limit = any(peak >= MEMORY - (1 << 20) for _, peak in seen.memory.values())
    assert at_limit or _oom_killed_in(seen.memory, since=started), seen
    assert any(most == PIDS for _, most in seen.pids.values()), seen
    build = {
        n: _check(_report(tmp_path / "out-1", n), "build.succeeds")
        for n in HOSTILE
        if n in ("memory", "forks")
    }
    assert "killed by its memory limit, 256 MiB" in build["memory"]["message"]
    assert f"reached its limit of {PIDS} processes" in build["forks"]["message"]

    # nothing left: the shared parent (every hierarchy), the RUN processes, containers, images
    fs = cgroups.CGROUP_FS
    assert not list(fs.glob(f"*/{cgroups.ROOT}/bk-256m-{PIDS}p-*")), "BuildKit's parent left"
    assert leftovers() == ([], [])
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert not [line for line in ps.stdout.splitlines() if line.startswith("sleep 47")]

"""Each submission's network and firewall rules are released in the background, off the
report's path (``Pipeline.close``), and every release is done once the grading returns: a class
run at ``-j 1`` and ``-j 2``, a queue task, a student's pytest run. The end-of-run sweeps also
remove the run's networks and rules; they are turned off here, so that a release dropped (or
not waited for) leaves its network behind and fails the test. Every test here asks for that
isolation (``GRADER_ISOLATION=network``): as root, the grader would otherwise make no network
at all (its containers reached inside their namespaces), and there would be nothing to
release."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.classrun import sweeper, tasks
from grader.classrun.batch import run_class
from grader.classrun.payload import pack
from grader.classrun.reuse import grader_digest
from grader.engine import Engine, firewall
from grader.engine.sweeps import Sweeps
from grader.grading.settings import Options
from grader.labels import LABEL, LABEL_RUN, new_run_labels, owner_label
from grader.stages import isolation
from tests.integration.conftest import owned_by, owner_rules

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(autouse=True)
def network_isolation(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """An internal network and firewall rules per submission, here and in child processes
    (checked: otherwise every test here would pass with nothing made to release)."""
    monkeypatch.setenv(isolation.MODE_VARIABLE, "network")
    made = isolation.isolate(engine, new_run_labels())
    try:
        assert made.network is not None and not made.inside, made
    finally:
        isolation.release(engine, made)


def grader_rules(needle: str) -> list[str]:
    """The host's iptables rules of the grader whose comment contains ``needle``."""
    text = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
    return [line for line in text.splitlines() if "docker-lab-grader" in line and needle in line]


def left_by(engine: Engine, pid: int) -> tuple[list[Any], list[str]]:
    """The networks and firewall rules the grading process ``pid`` left."""
    networks = owned_by(pid, engine.api.networks(filters={"label": LABEL}))
    return networks, grader_rules(owner_rules(pid))


@pytest.fixture
def no_network_sweep(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The sweeps remove containers and images, not networks nor rules: only the releases do;
    whatever this process left is removed afterwards."""
    monkeypatch.setattr(Sweeps, "_sweep_networks", lambda self, run_id: 0)
    try:
        yield
    finally:
        sweeper.wait()
        monkeypatch.undo()
        networks, _ = left_by(engine, os.getpid())
        for net in networks:
            engine.sweep((net.get("Labels") or {}).get(LABEL_RUN, "?"))
        mine = owner_label()
        firewall.sweep(lambda run, owner: owner == mine)


def copies(repo_root: Path, folder: Path, count: int) -> Path:
    """``count`` copies of tp6-ok (their app layers differ) in ``folder``."""
    for i in range(count):
        student = folder / f"s{i}"
        shutil.copytree(repo_root / "submissions" / "tp6-ok", student)
        with (student / "app.py").open("a", encoding="utf-8") as app:
            app.write(f"\n# written by s{i}, {os.urandom(4).hex()}\n")
    return folder


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.usefixtures("no_network_sweep")
def test_a_class_run_returns_with_every_network_and_rule_released(
    engine: Engine, repo_root: Path, tmp_path: Path, jobs: int
) -> None:
    klass = copies(repo_root, tmp_path / "class", 3)
    labels = new_run_labels()
    result = run_class(
        [klass], "tp6", Options(lang="en"), tmp_path / "out", engine, jobs=jobs, labels=labels
    )
    assert [r.score for r in result.reports] == [20, 20, 20]
    run = labels[LABEL_RUN]
    assert engine.api.networks(filters={"label": f"{LABEL_RUN}={run}"}) == []
    assert grader_rules(f"run={run} ") == []


@pytest.mark.usefixtures("no_network_sweep")
def test_a_queue_task_returns_with_its_network_and_rule_released(
    engine: Engine, repo_root: Path
) -> None:
    folder = repo_root / "submissions" / "tp6-ok"
    options = dataclasses.asdict(Options(lang="en"))
    payload = {"name": "tp6-ok", "files": pack(folder, 10**7), "options": options,
               "version": grader_digest(), "lab": "tp6", "lab_text": None}  # fmt: skip
    answer = tasks.grade_payload(payload, None)
    assert answer["report"]["score"] == 20
    assert left_by(engine, os.getpid()) == ([], [])


def test_a_students_pytest_run_leaves_no_network_or_rule(engine: Engine, repo_root: Path) -> None:
    """The rubric run by pytest itself: no class run, no sweep; only the release cleans up."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--submission", "submissions/tp6-ok", "--lab", "tp6", "--lang", "en"],
        cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    stdout, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout[-3000:]
    assert left_by(engine, proc.pid) == ([], [])

"""The stop's pure parts: PID 1's signal masks, the STOPSIGNAL's number, the check's feedback."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from checks.test_run import test_stop_signal as stop_signal_check
from grader.facts import StopFacts
from grader.grading.rubric import Grade
from grader.labs.params import StopSignalParams
from grader.stages import stopping
from grader.stages.stopping import (
    SETTLE_S,
    parse_status,
    parse_ticks,
    signal_number,
    stop_signal_of,
    watch,
)

# /proc/<pid>/status of a Node app without a SIGTERM listener, before and after SIGTERM
NODE_BEFORE = (
    "Name:\tnode\nState:\tS (sleeping)\nSigIgn:\t0000000001001000\nSigCgt:\t0000000100004602\n"
)
NODE_AFTER = NODE_BEFORE.replace("0000000100004602", "0000000100000602")
PYTHON = "Name:\tpython\nState:\tS (sleeping)\nSigIgn:\t01001000\nSigCgt:\t00000002\n"


def test_the_masks_say_whether_pid1_catches_sigterm() -> None:
    before, after, python = (
        parse_status(NODE_BEFORE),
        parse_status(NODE_AFTER),
        parse_status(PYTHON),
    )
    assert before is not None and after is not None and python is not None
    assert before.catches(15) and not before.defaults(15)
    assert not after.catches(15) and after.defaults(15) and after.alive
    assert not python.catches(15) and python.catches(2)
    ignoring = parse_status(PYTHON.replace("01001000", "01005000"))
    assert ignoring is not None and not ignoring.catches(15) and not ignoring.defaults(15)


def test_a_zombie_or_a_truncated_status_is_not_taken_for_a_running_pid1() -> None:
    zombie = parse_status(NODE_AFTER.replace("S (sleeping)", "Z (zombie)"))
    assert zombie is not None and not zombie.alive
    assert parse_status("Name:\tnode\nState:\tS (sleeping)\n") is None


def test_the_stop_signal_is_read_as_docker_writes_it() -> None:
    assert signal_number(None) == signal_number("SIGTERM") == signal_number("term") == 15
    assert signal_number("SIGQUIT") == signal_number("3") == 3
    assert signal_number("SIGRTMIN+3") is None and signal_number("0") is None


def grade() -> Grade:
    return Grade("run.stop_signal", StopSignalParams(), "en", None)


def test_a_stop_known_at_once_says_why_without_a_grace() -> None:
    ignored = StopFacts(0.1, 5.0, 137, "python app.py", True, "ignored")
    with pytest.raises(pytest.fail.Exception) as failed:
        stop_signal_check(ignored, grade())
    assert "PID 1 (python app.py) does not handle SIGTERM" in str(failed.value)
    dropped = StopFacts(0.3, 5.0, 137, "node index.js", True, "dropped")
    with pytest.raises(pytest.fail.Exception) as failed:
        stop_signal_check(dropped, grade())
    message = str(failed.value)
    assert "PID 1 (node index.js) received SIGTERM and did not stop" in message
    assert "reset SIGTERM to the default" in message and "(0.3 s)" in message
    prompt = StopFacts(0.2, 5.0, 0, "node index.js", True, "exited")
    assert not prompt.killed
    stop_signal_check(prompt, grade())
    late = StopFacts(5.1, 5.0, 137, "python app.py", True, "grace")
    with pytest.raises(pytest.fail.Exception, match="killed after 5 s"):
        stop_signal_check(late, grade())


def test_the_cpu_time_is_read_past_a_command_name_with_blanks() -> None:
    stat = "1 (node index) S 0 1 1 0 -1 4194560 1522 0 0 0 31 9 0 0 20 0 7 0 53 0 0"
    assert parse_ticks(stat) == 40
    assert parse_ticks("garbage") == 0


def _pid1(folder: Path, status: str, ticks: int, procs: str = "4242\n") -> Path:
    """A fake ``/proc/<pid>`` with its status, its stat and its container's cgroup (v2)."""
    folder.mkdir()
    (folder / "status").write_text(status)
    (folder / "stat").write_text(f"1 (x) S 0 1 1 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0 5 0 0")
    (folder / "cgroup").write_text(f"0::/docker/{folder.name}\n")
    group = folder.parent / "cgroup" / "docker" / folder.name
    group.mkdir(parents=True)
    (group / "cgroup.procs").write_text(procs)
    return folder


def test_a_reset_while_busy_is_a_way_out_not_a_dropped_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stopping, "CGROUP_ROOT", tmp_path / "cgroup")
    # CPython resets its handlers on the way out and is busy then (gunicorn did exit 0)
    busy = _pid1(tmp_path / "busy", NODE_AFTER.replace("S (sleeping)", "R (running)"), 5)
    assert watch(busy, 15, time.monotonic() + 0.2) == "grace"
    resets: list[str] = []
    idle = _pid1(tmp_path / "idle", NODE_AFTER, 5)
    started = time.monotonic()
    assert watch(idle, 15, started + 2, lambda: resets.append("knocking ended")) == "dropped"
    assert SETTLE_S <= time.monotonic() - started < 1 and resets == ["knocking ended"]
    # waiting for its children to stop: sleeping, but not alone
    parent = _pid1(tmp_path / "parent", NODE_AFTER, 5, procs="4242\n4250\n")
    assert watch(parent, 15, time.monotonic() + 0.2) == "grace"
    handling = _pid1(tmp_path / "handling", NODE_BEFORE, 5)
    assert watch(handling, 15, time.monotonic() + 0.1) == "grace"
    assert watch(tmp_path / "gone", 15, time.monotonic() + 1) == "exited"


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"])


def _cgroup_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cgroup").read_text().splitlines()[0]


def test_a_signal_goes_straight_to_the_process_it_names() -> None:
    """Sent through a pidfd once the process is checked to be the owner's (a real process,
    a line of its own cgroup file as the owner): it is killed, and one that has exited says
    so."""
    child = _sleeper()
    proc = Path(f"/proc/{child.pid}")
    try:
        sent = stopping.signal_directly(proc, _cgroup_line(child.pid), signal.SIGKILL)
        assert sent is True  # our own child: permitted, root or not
        assert child.wait(10) == -signal.SIGKILL
        assert stopping.signal_directly(proc, "", signal.SIGKILL) is False  # reaped: gone
    finally:
        child.kill()
        child.wait()


def test_a_process_of_another_owner_is_never_signalled() -> None:
    """A pid that is no longer the container's (another cgroup: a pid reused) is left alone:
    the engine is asked instead."""
    child = _sleeper()
    try:
        proc = Path(f"/proc/{child.pid}")
        assert stopping.signal_directly(proc, "not-this-container", signal.SIGKILL) is None
        time.sleep(0.05)
        assert child.poll() is None  # still running
    finally:
        child.kill()
        child.wait()


def test_the_stop_signal_is_the_images_stopsignal_or_sigterm() -> None:
    assert stop_signal_of({"Config": {"StopSignal": "SIGINT"}}) == "SIGINT"
    assert stop_signal_of({"Config": {"StopSignal": ""}}) == "SIGTERM"
    assert stop_signal_of({"Config": None}) == "SIGTERM"
    assert stop_signal_of({}) == "SIGTERM"

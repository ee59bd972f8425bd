"""The benchmark's pure parts: medians, ratios, targets, the copies and the generated class."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from bench import copies
from bench.classfloor import ClassFloor, argument_lines, cli_env
from bench.dockerio import stage_leaves
from bench.document import class_totals, upper_bound, verdicts
from bench.floor import FloorTarget, free_port
from bench.gradearm import Capabilities, GradeRun, capabilities_from_help, grade_argv, tree_rss
from bench.listen import owned_by, parse_tcp, watch
from bench.runner import app_port, arm_order, floor_ratio, summarise
from bench.stats import difference, evaluate, median, ratio, total
from bench.table import listen_cell, render
from grader.intake.submission import load_submission
from grader.labels import LABEL_OWNER, new_run_labels, owner_label

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted(p for p in (ROOT / "submissions").iterdir() if p.is_dir())


def test_median_odd_even_and_empty() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert median([]) is None


def test_ratio_difference_and_total_refuse_missing_values() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 2.0) is None and ratio(2.0, None) is None
    assert difference(1.5, 0.5) == 1.0 and difference(None, 1.0) is None
    assert total([1.0, 2.0]) == 3.0
    assert total([1.0, None]) is None and total([]) is None


def test_targets_judge_the_worst_value_at_their_bound() -> None:
    assert evaluate("cold_ratio", [1.0, 1.05]).passed is True  # <= 1.05 (issue 17)
    worst = evaluate("cold_ratio", [1.05, 1.2, None])
    assert worst.value == 1.2 and worst.passed is False
    assert evaluate("warm_added", [0.5]).passed is True
    assert evaluate("warm_added", [0.51]).passed is False
    assert evaluate("listen_to_probe", [49.9]).passed is True
    assert evaluate("listen_to_probe", [50.0]).passed is False  # strictly under 50 ms
    assert evaluate("class_floor_ratio", [1.02, 1.10]).passed is True
    assert evaluate("regrade_fraction", [0.031]).passed is False  # at most 3 %
    assert evaluate("peak_rss", [199.0]).passed is True


def test_nothing_measured_is_not_a_pass() -> None:
    verdict = evaluate("parallel_ratio", [None], "grade offers no -j")
    assert verdict.passed is None and verdict.value is None
    assert verdict.to_dict()["note"] == "grade offers no -j"
    assert evaluate("regrade_fraction", []).note == "not measured"


def test_arms_alternate() -> None:
    assert arm_order(0) == ("floor", "grader")
    assert arm_order(1) == ("grader", "floor")
    assert arm_order(2) == arm_order(0)


def test_summaries_take_medians_ratio_cold_added_warm() -> None:
    samples: list[dict[str, float | int]] = [
        {"floor_s": 4.0, "grader_s": 5.0, "grader_exit": 0},
        {"grader_s": 4.0, "grader_exit": 0, "floor_s": 2.0},
        {"floor_s": 3.0, "grader_s": 6.0, "grader_exit": 0},
    ]
    cold = summarise(samples, cold=True)
    assert (cold["floor_median_s"], cold["grader_median_s"], cold["ratio"]) == (3.0, 5.0, 5 / 3)
    warm = summarise(samples, cold=False)
    assert warm["added_s"] == 2.0 and "ratio" not in warm


def _doc(listen: float | None, klass: dict[str, object] | None) -> dict[str, object]:
    sub = {
        "name": "tp6-ok",
        "cold": summarise([{"floor_s": 4.0, "grader_s": 4.2}], cold=True),
        "warm": summarise([{"floor_s": 0.8, "grader_s": 2.0}], cold=False),
        "listen_to_probe_ms": listen,
        "listen_note": "" if listen is not None else "missed",
    }
    broken = {"name": "tp6-syntax-error", "error": "floor failed"}
    subs = [sub, broken]
    return {
        "run_id": "r",
        "started": "now",
        "machine": {"hostname": "h", "cpus": 2, "docker": "20"},
        "options": {"repeat": 1},
        "grader": {"startup_s": 0.4, "jobs_flag": False, "force_flag": False},
        "submissions": subs,
        "class_totals": class_totals(subs),
        "class_run": klass,
        "targets": [v.to_dict() for v in verdicts(subs, klass)],  # type: ignore[arg-type]
    }


def test_verdicts_and_table_from_a_document() -> None:
    klass = {
        "size": 30, "sources": ["tp6-ok"], "parallel_ratio": None, "regrade_fraction": 0.5,
        "peak_rss_mb": 50.0, "peak_rss_jobs": 1, "notes": [], "j1": None, "j2": None,
        "regrade": None, "j4": None,
    }  # fmt: skip
    doc = _doc(None, klass)
    targets = {t["id"]: t for t in doc["targets"]}  # type: ignore[attr-defined]
    assert targets["cold_ratio"]["passed"] is True  # 4.2 / 4.0
    assert targets["warm_added"]["passed"] is False  # +1.2 s
    assert targets["listen_to_probe"]["passed"] is None
    assert targets["parallel_ratio"]["note"] == "grade offers no -j"
    assert targets["regrade_fraction"]["passed"] is False
    assert "-j 1" in targets["peak_rss"]["note"]
    totals = doc["class_totals"]
    assert totals["submissions"] == 1  # type: ignore[index]
    text = render(doc)
    assert "| FAIL |" in text and "| pass |" in text and "| n/a |" in text
    assert "not measured: floor failed" in text


def test_capabilities_read_from_help() -> None:
    assert capabilities_from_help("usage: grade [-h] [--lab LAB] [--resume]") == Capabilities(
        False, False
    )
    both = "usage: grade [-j N] [--force]\n  -j N, --jobs N  grade N at once\n  --force  regrade"
    assert capabilities_from_help(both) == Capabilities(True, True)
    assert capabilities_from_help("  --force-rm  x\n  --jobsfile F") == Capabilities(False, False)


def test_grade_argv_uses_only_what_grade_offers(tmp_path: Path) -> None:
    none = grade_argv(Path("grade"), [tmp_path], tmp_path / "o", Capabilities(False, False), 2)
    assert "-j" not in none and "--force" not in none
    both = grade_argv(Path("grade"), [tmp_path], tmp_path / "o", Capabilities(True, True), 2)
    assert both[-3:] == ["-j", "2", "--force"]
    again = grade_argv(Path("grade"), [tmp_path], tmp_path / "o", Capabilities(True, True), 2,
                       force=False)  # fmt: skip
    assert "--force" not in again


def test_dependency_nonce_changes_requirements_and_package_json(tmp_path: Path) -> None:
    tp6 = copies.copy_submission(ROOT / "submissions/tp6-ok", tmp_path / "a" / "tp6-ok")
    assert copies.mark_dependencies(tp6, "n1") == ["requirements.txt"]
    assert (tp6 / "requirements.txt").read_text().endswith("gunicorn==22.0.0\n# bench nonce n1\n")
    node = copies.copy_submission(ROOT / "submissions/tp6bis-ok", tmp_path / "b" / "tp6bis-ok")
    before = json.loads((node / "package.json").read_text())
    assert copies.mark_dependencies(node, "n2") == ["package.json"]
    after = json.loads((node / "package.json").read_text())
    assert after.pop("//bench-nonce") == "n2" and after == before
    other = copies.copy_submission(ROOT / "submissions/tp6bis-ok", tmp_path / "c" / "tp6bis-ok")
    copies.mark_dependencies(other, "n3")
    assert (other / "package.json").read_text() != (node / "package.json").read_text()


def test_generated_class_has_30_distinct_students(tmp_path: Path) -> None:
    students = copies.generate_class(BUNDLED, tmp_path / "class", 30, "s1")
    assert len(students) == 30 and len({s.name for s in students}) == 30
    hashes = {load_submission(s).files_hash for s in students}
    assert len(hashes) == 30
    # every student's app code differs from its source's (so each build differs)
    for i, student in enumerate(students):
        source = BUNDLED[i % len(BUNDLED)]
        app = copies.app_file(student)
        assert app is not None
        original = (source / app.name).read_text()
        assert app.read_text() != original and app.read_text().startswith(original)
    # another run of the generator (another salt) gives other students
    again = copies.generate_class(BUNDLED[:1], tmp_path / "again", 2, "s2")
    assert {load_submission(s).files_hash for s in again}.isdisjoint(hashes)


def test_generator_needs_sources(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        copies.generate_class([], tmp_path, 3, "s")


def test_app_port_from_lab_then_expose() -> None:
    assert app_port(ROOT / "submissions/tp6-ok") == 8000
    assert app_port(ROOT / "submissions/tp6bis-ok") == 3000  # the lab gives none: EXPOSE
    assert app_port(ROOT / "submissions/tp6bis-no-expose") is None


def test_parse_proc_net_tcp() -> None:
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        "   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000\n"
        "   1: 020011AC:1F40 010011AC:D2F0 01 00000000:00000000 00:00000000 00000000  1000\n"
    )
    assert parse_tcp(text) == [(8000, "0A"), (8000, "01")]
    assert parse_tcp("header only\n") == []


def test_owner_label_of_grade_or_its_workers() -> None:
    """The labels as the grader writes them (``grader.labels.new_run_labels``)."""
    me = os.getpid()
    assert owned_by(new_run_labels()[LABEL_OWNER], me)
    assert owned_by(owner_label(me), me)
    assert not owned_by(f"elsewhere:{me}", me)
    assert not owned_by(f"{owner_label(me)}1", me)  # the same pid, another process
    assert not owned_by("no-pid", me)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert owned_by(owner_label(child.pid), me)  # a worker process of ``grade``
        assert not owned_by(owner_label(me), child.pid)
        assert tree_rss(psutil.Process(me)) > tree_rss(psutil.Process(child.pid)) > 0
    finally:
        child.kill()
        child.wait()


LISTENER = """
import socket, sys, time
time.sleep(float(sys.argv[2]))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
conn, _ = s.accept()
time.sleep(5)
"""


def _listener(port: int, delay_s: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", LISTENER, str(port), str(delay_s)])


def _connect_when_listening(port: int) -> socket.socket:
    while True:
        sock = socket.socket()
        try:
            sock.connect(("127.0.0.1", port))
            return sock
        except ConnectionRefusedError:
            sock.close()
            time.sleep(0.005)


def test_watch_sees_listening_then_the_first_connection() -> None:
    port = free_port()
    child = _listener(port, 1.0)  # the watch starts long before the app listens
    done = threading.Event()
    client = threading.Thread(target=lambda: _connect_when_listening(port).close())
    try:
        client.start()
        seen = watch(child.pid, port, done, timeout_s=30)
    finally:
        client.join()
        child.kill()
        child.wait()
    assert seen.ms is not None and seen.ms >= 0
    assert seen.uncertainty_ms is not None and seen.uncertainty_ms > 0
    assert seen.note == "" or "held up" in seen.note


def test_watch_reports_a_missed_listening_moment() -> None:
    port = free_port()
    child = _listener(port, 0.0)
    try:
        _connect_when_listening(port).close()  # listening (and connected) before the watch
        seen = watch(child.pid, port, threading.Event(), timeout_s=30)
    finally:
        child.kill()
        child.wait()
    assert (seen.ms, seen.note) == (
        None,
        "missed: the app already listened when the container was found",
    )


def test_listen_cell_of_the_table() -> None:
    assert listen_cell({"listen_to_probe_ms": None}) == "–"
    assert listen_cell({"listen_to_probe_ms": 0.0, "listen_uncertainty_ms": 1.0}) == "< 1"
    assert listen_cell({"listen_to_probe_ms": 26.4, "listen_uncertainty_ms": 34.0}) == "26 ±34"


def test_listen_target_is_judged_on_the_upper_bound() -> None:
    assert upper_bound(60.0, 45.0) == 105.0 and upper_bound(None, 3.0) is None
    doc = _doc(60.0, None)
    sub = doc["submissions"][0]  # type: ignore[index]
    sub["listen_uncertainty_ms"] = 45.0
    (listen,) = [v for v in verdicts(doc["submissions"], None) if v.target.id == "listen_to_probe"]  # type: ignore[arg-type]
    assert (listen.value, listen.passed) == (105.0, False)


def test_stage_leaves_are_each_stage_s_last_image_under_the_grader_s_labels() -> None:
    log = (
        "Step 1/7 : FROM node:18 AS build\n ---> 1c3f43ae0d98\n"
        "Step 2/7 : RUN npm ci\n ---> Running in 931eb98b8754\n ---> 7023ca8d83f4\n"
        "Step 3/7 : FROM node:18-slim\n ---> b64c9df3583e\n"
        "Step 4/7 : COPY --from=build /app ./\n ---> d907013f548d\n"
        "Step 5/7 : CMD node index.js\n ---> cc2ed3d97831\n"
        "Step 6/7 : LABEL org.docker-lab-grader=abc\n ---> 8dbee2b56832\n"
        "Step 7/7 : LABEL org.docker-lab-grader.owner=vm:1\n ---> ecab2bb2a867\n"
    )
    assert stage_leaves(log) == ["7023ca8d83f4", "cc2ed3d97831"]
    assert stage_leaves("Step 1/2 : FROM python:3.11\n ---> aaaaaaaaaaaa\n") == []


def test_the_class_floor_gives_xargs_one_line_of_arguments_per_student(tmp_path: Path) -> None:
    students = [FloorTarget(tmp_path / f"s{i}", tmp_path / f"s{i}" / "Dockerfile", 8000)
                for i in range(3)]  # fmt: skip
    lines = argument_lines(students, "run1", "class7", 300).splitlines()
    assert len(lines) == 3
    fields = [line.split() for line in lines]
    assert all(len(f) == 8 for f in fields)
    assert [f[5] for f in fields] == ["class7-0", "class7-1", "class7-2"]  # one step each
    assert len({f[3] for f in fields}) == 3  # a host port each
    assert fields[0][:3] == [str(tmp_path / "s0"), str(tmp_path / "s0" / "Dockerfile"), "8000"]
    blank = [FloorTarget(tmp_path / "a b", tmp_path / "a b" / "Dockerfile", 8000)]
    with pytest.raises(ValueError):
        argument_lines(blank, "run1", "class7", 300)


def test_the_class_floor_builds_as_the_docker_cli_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    assert "DOCKER_BUILDKIT" not in cli_env()


def test_the_class_ratio_needs_every_student_in_both_arms(tmp_path: Path) -> None:
    reports: dict[str, dict[str, object]] = {f"s{i}": {} for i in range(4)}
    run = GradeRun(12.0, 0, 1, ("grade",), tmp_path, reports=reports)  # type: ignore[arg-type]
    assert floor_ratio(run, ClassFloor(2, 10.0, 0, 4)) == pytest.approx(1.2)
    assert floor_ratio(run, ClassFloor(2, 10.0, 123, 4)) is None  # a student got no 200
    assert floor_ratio(run, ClassFloor(2, 10.0, 0, 5)) is None  # the grader graded fewer


def test_the_class_table_and_target_compare_each_n_with_the_floor() -> None:
    def run(seconds: float) -> dict[str, object]:
        return {"seconds": seconds, "graded": 4, "checks_error": 0, "peak_rss_mb": 90.0}

    klass = {
        "size": 4, "sources": ["tp6-ok"], "parallel_ratio": 0.7, "regrade_fraction": 0.02,
        "peak_rss_mb": 90.0, "peak_rss_jobs": 4, "notes": [], "j1": run(20.0), "j2": run(12.0),
        "regrade": run(0.3), "j4": run(9.0),
        "floor": {"j1": {"seconds": 19.0}, "j2": {"seconds": 11.5}, "j4": {"seconds": 7.5}},
        "floor_ratio": {"j1": 20 / 19, "j2": 12 / 11.5, "j4": 9 / 7.5},
    }  # fmt: skip
    doc = _doc(10.0, klass)
    targets = {t["id"]: t for t in doc["targets"]}  # type: ignore[attr-defined]
    floor = targets["class_floor_ratio"]
    assert floor["value"] == pytest.approx(1.2) and floor["passed"] is False  # -j 4 is worst
    assert floor["note"] == "-j 1: 1.05, -j 2: 1.04, -j 4: 1.20"
    # -j 2 against -j 1 is read beside what the raw floor itself gains from a second slot
    assert targets["parallel_ratio"]["note"] == "the raw floor's own -P 2 / -P 1: 0.61"
    text = render(doc)
    assert "| -j 4 | 9.00 | 7.50 | 1.20 | 4 | 0 | 90 |" in text
    assert "| unchanged, again | 0.30 | – | – | 4 | 0 | 90 |" in text


@pytest.mark.parametrize(
    ("argv", "pairs", "queue"),
    [([], 15, 7), (["--repeat", "5"], 5, 5), (["--quick"], 1, 1), (["--queue-only"], 15, 3)],
)
def test_the_pairs_repeat_more_than_the_queue_s_arms(
    argv: list[str], pairs: int, queue: int, tmp_path: Path
) -> None:
    """A cold pair's ratio moves by 0.2 over 2 s from one pair to the next: its median needs
    more pairs than the queue's arms, which each grade a class."""
    from bench.cli import config, parser

    cfg = config(parser().parse_args(argv), tmp_path, "run")
    assert (cfg.repeat, cfg.queue_repeat) == (pairs, queue)

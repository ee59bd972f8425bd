"""Trust boundaries on the real engine (issue 15): what a hostile submission tries, refused."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from grader.classrun import secret
from grader.classrun.reuse import grader_digest
from grader.cli.entry import main
from grader.engine import Engine
from grader.engine.capped import FILE_LIMIT
from grader.facts import DevPackages
from grader.facts.results import CheckResult, Status, assemble
from grader.grading.settings import Options
from grader.intake.submission import files_hash
from grader.labels import new_run_labels
from grader.stages import runtime

pytestmark = [pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A grading machine whose secret lives in this test's own cache folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(secret.ENV, raising=False)
    secret.reuse_secret.cache_clear()
    yield tmp_path / "cache"
    secret.reuse_secret.cache_clear()


def _forge(root: Path, name: str, folder: Path) -> None:
    """A 20/20 report.json whose reuse key is computed as the grader's public source says."""
    digest = hashlib.sha256()
    lab_text = (ROOT / "grader/labs/tp6.toml").read_bytes()
    for part in (files_hash(root).encode(), lab_text, repr(Options()).encode()):
        digest.update(hashlib.sha256(part).digest())
    digest.update(hashlib.sha256(grader_digest().encode()).digest())
    check = CheckResult("build.succeeds", Status.PASSED, 20, 20, "", None)
    report = assemble(name, "tp6", [check], reuse_key=digest.hexdigest())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report.to_dict()), encoding="utf-8")


def test_ci_never_reuses_a_report_committed_in_the_submission(
    machine: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "alice-tp6"
    root.mkdir()
    (root / "Dockerfile").write_text("FORM python:3.11-slim\n")  # fails at once: never 20/20
    (root / "app.py").write_text("print('hello')\n")
    (root / ".gitignore").write_text("node_modules/\n")
    (root / "reports").symlink_to("node_modules/forged")  # committed as a link
    forged = root / "node_modules" / "forged"  # ignored by the files' hash: computable
    _forge(root, "", forged)  # today's name for `grade .`
    _forge(root, "alice-tp6", forged / "alice-tp6")  # the folder's real name
    monkeypatch.chdir(root)
    code = main([".", "--output", "reports", "--lab", "tp6", "--min-score", "20"])
    out = capsys.readouterr().out
    assert code == 1, out  # graded for real: below 20
    written = json.loads((forged / "alice-tp6" / "report.json").read_text(encoding="utf-8"))
    assert written["submission"] == "alice-tp6" and written["score"] < 20, (out, written)


# -- one submission cannot exhaust the grader or hold a worker -------------------------------

HOSTILE = """FROM python:3.11-slim
RUN yes 'nobody2:x:65533:65533::/nonexistent:/usr/sbin/nologin' | head -c 30000000 \\
 >> /etc/passwd \\
 && mkdir -p /srv/folder && head -c 3000000 /dev/zero > /srv/folder/big
RUN ["/bin/bash", "-c", "printf '#!/bin/bash\\\\nexec sleep 3600\\\\n' > /tmp/sh \\
 && chmod 755 /tmp/sh && mv -f /tmp/sh /bin/sh"]
CMD ["python", "-c", "import time; time.sleep(3600)"]
"""
"""A 30 MB /etc/passwd, a folder where a file is expected, and a shell that never answers."""


def _build(engine: Engine, dockerfile: str, labels: dict[str, str]) -> str:
    stream = engine.api.build(
        fileobj=io.BytesIO(dockerfile.encode()), labels=labels, rm=True, forcerm=True, decode=True
    )
    image_id = ""
    for event in stream:
        assert "error" not in event, event
        image_id = (event.get("aux") or {}).get("ID", image_id)
    assert image_id
    return image_id


@pytest.fixture(scope="module")
def hostile(engine: Engine) -> Iterator[dict[str, str]]:
    """The hostile image, a container of it and one of the plain base image, both running."""
    labels = new_run_labels()
    image = _build(engine, HOSTILE, labels)
    made: dict[str, str] = {"image": image}
    try:
        for key, source in (("hostile", image), ("plain", "python:3.11-slim")):
            created = engine.api.create_container(
                source, command=["sleep", "3600"], labels=labels, stop_signal="SIGKILL"
            )
            made[key] = created["Id"]
            engine.api.start(created["Id"])
        yield made
    finally:
        for key in ("hostile", "plain"):
            if key in made:
                engine.api.remove_container(made[key], force=True)
        engine.api.remove_image(image, force=True)


def _remote(engine: Engine, container_id: str) -> runtime.MainProcess:
    """The container's running PID 1 as on a remote engine (no ``/proc`` of it here): its
    files are looked at inside the container, with testinfra."""
    main = runtime.main_process(engine, container_id)
    assert main is not None, "the container runs"
    return dataclasses.replace(main, proc=None)


def test_reads_from_an_image_are_capped(engine: Engine, hostile: dict[str, str]) -> None:
    labels = new_run_labels()
    passwd = engine.read_image_file(hostile["image"], "/etc/passwd", labels)
    assert passwd is not None and len(passwd) == FILE_LIMIT and passwd.startswith(b"root:")
    assert engine.read_image_file(hostile["image"], "/srv/folder", labels) is None  # not a file
    assert engine.exec_read(hostile["hostile"], "/etc/passwd") is None  # cat past the cap
    assert engine.exec_read(hostile["plain"], "/etc/hostname") is not None


def test_a_shell_that_never_answers_holds_up_no_one(
    engine: Engine, hostile: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "EXEC_TIMEOUT_S", 8.0, raising=False)  # absent before: no bound
    found: dict[str, tuple[float, DevPackages]] = {}

    def facts(key: str) -> None:
        started = time.monotonic()
        packages = runtime.dev_packages(
            engine, hostile[key], "/app", ("jest",), _remote(engine, hostile[key])
        )
        found[key] = (time.monotonic() - started, packages)

    stuck = threading.Thread(target=facts, args=("hostile",), daemon=True)
    stuck.start()
    time.sleep(1.0)  # the hostile container's exec is under way
    other = threading.Thread(target=facts, args=("plain",), daemon=True)
    other.start()
    other.join(20)
    stuck.join(30)
    assert "plain" in found, "another container's exec waited behind the stuck one"
    seconds, packages = found["plain"]
    assert packages.method == "testinfra" and seconds < 6, (seconds, packages)
    assert "hostile" in found, "the stuck exec never timed out"
    seconds, packages = found["hostile"]
    assert packages.method == "archive" and packages.present == () and seconds < 15


DRIPPING_APP = """import socket, time
server = socket.create_server(("0.0.0.0", 5000))
while True:
    conn, _ = server.accept()
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 9999\\r\\n\\r\\n")
    for _ in range(300):
        try:
            conn.sendall(b"x")
        except OSError:
            break
        time.sleep(2)
    conn.close()
"""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _grade(argv: list[str], bound_s: float) -> tuple[int, float]:
    """``grade`` in-process, interrupted (exit 130) if it runs past ``bound_s``."""
    previous = signal.signal(signal.SIGALRM, _interrupt)
    signal.setitimer(signal.ITIMER_REAL, bound_s)
    started = time.monotonic()
    try:
        code = main(argv)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, time.monotonic() - started


def test_a_page_that_drips_is_graded_within_the_http_timeout(tmp_path: Path) -> None:
    root = tmp_path / "drip"
    root.mkdir()
    (root / "app.py").write_text(DRIPPING_APP)
    (root / "Dockerfile").write_text(
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY app.py .\nEXPOSE 5000\n"
        'CMD ["python", "app.py"]\n'
    )
    out = tmp_path / "out"
    argv = [str(root), "--lab", "tp6", "--output", str(out), "--lang", "en", "--http-timeout", "3"]
    code, seconds = _grade(argv, bound_s=240)
    assert code == 0, seconds
    checks = {c["id"]: c for c in json.loads((out / "drip" / "report.json").read_text())["checks"]}
    assert checks["http.root_status"]["status"] == "failed", checks["http.root_status"]
    assert checks["http.root_text"]["status"] == "not_run", checks["http.root_text"]
    assert "error" not in {c["status"] for c in checks.values()}


def test_submissions_with_the_same_name_keep_their_own_reports(tmp_path: Path) -> None:
    for parent, text in (("a", "FORM python\n"), ("b", "FROM\n")):
        (tmp_path / "class" / parent / "alice").mkdir(parents=True)
        (tmp_path / "class" / parent / "alice" / "Dockerfile").write_text(text)
    out = tmp_path / "out"
    paths = [str(tmp_path / "class" / "a"), str(tmp_path / "class" / "b")]
    assert main([*paths, "--lab", "tp6", "--output", str(out), "--lang", "en"]) == 0
    for name in ("a_alice", "b_alice"):
        report = json.loads((out / name / "report.json").read_text())
        assert report["submission"] == name
        assert any("same name, alice" in note for note in report["notes"]), report["notes"]
    assert not (out / "alice").exists()


def test_testinfra_runs_through_the_engine_without_a_docker_cli(
    engine: Engine, hostile: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """testinfra's commands go through the engine's exec API: no ``docker`` process per check
    (a grader whose PATH has no CLI still checks inside the container)."""
    monkeypatch.setenv("PATH", "/nonexistent")
    plain = hostile["plain"]
    packages = runtime.dev_packages(engine, plain, "/app", ("jest",), _remote(engine, plain))
    assert packages.method == "testinfra" and packages.present == ()

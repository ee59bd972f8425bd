"""Hostile submissions, graded for real: each ends with a report and a right verdict, the
machine stays usable, the next submission is graded, and nothing labelled is left behind.

Most cases share one class run (one ``main()`` call) to keep the suite fast: the order of the
folders is the order of grading, so each case is followed by another that must still be graded.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from grader.cli.entry import main
from grader.engine import Engine
from grader.labels import LABEL, LABEL_OWNER, LABEL_SUBMISSION, owner_label, owner_of

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FAST = ["--build-timeout", "20", "--start-timeout", "6"]
OWNER = owner_label()
"""The owner label of every object the in-process grader creates in this test process."""

MINIMAL = """FROM python:3.11-slim
LABEL maintainer="Hostile Student"
WORKDIR /app
COPY app.py config.py ./
USER 1000
ENTRYPOINT {entrypoint}
"""
"""A Dockerfile that builds in a second (no pip): only its command differs between cases."""

STDLIB_APP = """from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body, status = (b"Hello Docker!", 200) if self.path == "/" else (b"Not Found", 404)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
"""
"""A correct app that needs no pip install, for a quick "the next one is graded" case."""

FORK_BOMB = (
    "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
)
"""Forks without end and survives EAGAIN: it stays pinned at the pids limit, not exiting."""


# -- helpers ---------------------------------------------------------------------------------


def _ours(found: tuple[list[Any], list[Any]]) -> tuple[list[Any], list[Any]]:
    """The grader-labelled objects created by this test process (another run may be going on
    against the same engine: its objects are not ours to judge)."""
    containers, images = found
    return (
        [c for c in containers if owner_of(c.get("Labels") or {}) == OWNER],
        [i for i in images if owner_of(i.get("Labels") or {}) == OWNER],
    )


def _tp6_ok(repo_root: Path, folder: Path) -> Path:
    shutil.copytree(repo_root / "submissions" / "tp6-ok", folder)
    return folder


def _minimal(repo_root: Path, folder: Path, entrypoint: list[str]) -> Path:
    _tp6_ok(repo_root, folder)
    (folder / "Dockerfile").write_text(
        MINIMAL.format(entrypoint=json.dumps(entrypoint)), encoding="utf-8"
    )
    return folder


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _grade(paths: list[Path], out: Path, *flags: str, bound_s: float) -> tuple[int, float]:
    """Run ``grade`` in-process; past ``bound_s`` it is interrupted as by Ctrl-C (the grader
    then cleans up and returns 130), so a grader that hangs fails the test instead of hanging
    it (and, for an endless log, filling the disk)."""
    previous = signal.signal(signal.SIGALRM, _interrupt)
    signal.setitimer(signal.ITIMER_REAL, bound_s)
    started = time.monotonic()
    try:
        code = main(
            [*map(str, paths), "--lab", "tp6", "--output", str(out), "--lang", "en", *flags]
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, time.monotonic() - started


def _report(out: Path, name: str) -> dict[str, Any]:
    """A submission's report.json, read as strict UTF-8."""
    raw = (out / name / "report.json").read_bytes()
    report: dict[str, Any] = json.loads(raw.decode("utf-8"))
    return report


def _checks(out: Path, name: str) -> dict[str, tuple[str, str]]:
    """check id -> (status, message)."""
    return {c["id"]: (c["status"], c["message"]) for c in _report(out, name)["checks"]}


def _assert_clean_report(out: Path, name: str) -> dict[str, tuple[str, str]]:
    """The report exists, no check is an ``error`` and the grader logged no traceback."""
    checks = _checks(out, name)
    errors = {k: m for k, (s, m) in checks.items() if s == "error"}
    assert not errors, errors
    assert not (out / name / "grader.log").exists(), (out / name / "grader.log").read_text()
    return checks


def _all_output(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file())


def _outside_fences(markdown: str) -> str:
    """The text of a Markdown document outside its fenced code blocks (CommonMark rules:
    a block opened by N backticks is closed by a line of at least N backticks, nothing else)."""
    kept: list[str] = []
    fence = 0
    for line in markdown.split("\n"):
        run = re.match(r"^ {0,3}(`{3,})(.*)$", line)
        if fence:
            if run and not run.group(2).strip() and len(run.group(1)) >= fence:
                fence = 0
        elif run and "`" not in run.group(2):
            fence = len(run.group(1))
        else:
            kept.append(line)
    assert fence == 0, "a code block is never closed"
    return "\n".join(kept)


class PidsWatcher:
    """Samples the pids count of one submission's containers while the class is graded."""

    def __init__(self, submission: str) -> None:
        self.submission = submission
        self.samples: list[int] = []
        self.limits: list[int] = []
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PidsWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            engine = Engine()
        except Exception as exc:  # reported by the test, never raised in a thread
            self.problems.append(repr(exc))
            return
        try:
            wanted = {"label": [f"{LABEL_SUBMISSION}={self.submission}"]}
            while not self._stop.is_set():
                try:
                    for c in engine.api.containers(filters=wanted):
                        if (c.get("Labels") or {}).get(LABEL_OWNER) != OWNER:
                            continue
                        stats = engine.api.stats(c["Id"], stream=False, one_shot=True)
                        current = (stats.get("pids_stats") or {}).get("current")
                        if current:
                            self.samples.append(int(current))
                        limit = engine.api.inspect_container(c["Id"])["HostConfig"]["PidsLimit"]
                        self.limits.append(int(limit or 0))
                except Exception as exc:  # the container went away between two calls
                    self.problems.append(repr(exc))
                self._stop.wait(0.3)
        finally:
            engine.close()


# -- one class run: what a container does once started -----------------------------------------


@pytest.fixture(scope="module")
def runtime_class(
    repo_root: Path, tmp_path_factory: pytest.TempPathFactory, engine: Engine
) -> dict[str, Any]:
    """Nine submissions, each hostile in one way, graded in one run (``engine``: the dead
    runs' leftovers are swept first)."""
    tmp = tmp_path_factory.mktemp("hostile-runtime")
    klass = tmp / "class"
    token = f"canary-{secrets.token_hex(16)}"
    canary = tmp / "canary-secret.txt"
    canary.write_text(f"{token}\n", encoding="utf-8")
    canary_dockerfile = tmp / "canary-dockerfile"
    canary_dockerfile.write_text(
        f'FROM python:3.11-slim\nLABEL maintainer="{token}"\nRUN echo {token}\n', encoding="utf-8"
    )

    _minimal(repo_root, klass / "01-fork-bomb", ["python", "-c", FORK_BOMB])
    hog = "a = []\nwhile True:\n    a.append(bytearray(10**7))\n"
    _minimal(repo_root, klass / "02-memory-hog", ["python", "-c", hog])
    _minimal(repo_root, klass / "03-endless-log", ["python", "-c", "while True: print('x' * 100)"])
    _minimal(repo_root, klass / "04-never-listens", ["sleep", "600"])

    latin1 = _tp6_ok(repo_root, klass / "05-latin1-file-name")
    fd = os.open(os.path.join(os.fsencode(latin1), b"caf\xe9.txt"), os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"une note\n")
    os.close(fd)

    # a link to a host file, copied by name: the builder resolves it inside the context
    copy_link = _tp6_ok(repo_root, klass / "06-symlink-copied")
    (copy_link / "secret").symlink_to(canary)
    dockerfile = (copy_link / "Dockerfile").read_text(encoding="utf-8")
    (copy_link / "Dockerfile").write_text(
        dockerfile.replace("COPY config.py .\n", "COPY config.py .\nCOPY secret /app/secret\n"),
        encoding="utf-8",
    )
    # the same link copied with the whole folder, and an app that serves the file
    whole = _tp6_ok(repo_root, klass / "07-symlink-whole-folder")
    (whole / "secret").symlink_to(canary)
    (whole / "Dockerfile").write_text(
        dockerfile.replace("COPY app.py .\nCOPY config.py .\n", "COPY . .\n"), encoding="utf-8"
    )
    (whole / "app.py").write_text(
        "from flask import Flask\n\napp = Flask(__name__)\n\n\n"
        '@app.route("/")\ndef secret():\n'
        "    try:\n"
        '        with open("/app/secret", encoding="utf-8") as handle:\n'
        '            return "secret: " + handle.read()\n'
        "    except OSError as exc:\n"
        '        return "secret unreadable: " + type(exc).__name__\n',
        encoding="utf-8",
    )
    # the Dockerfile itself a link to a host file: the grader must not read it
    linked = _tp6_ok(repo_root, klass / "08-symlink-dockerfile")
    (linked / "Dockerfile").unlink()
    (linked / "Dockerfile").symlink_to(canary_dockerfile)

    # student content made to break out of the report's Markdown: tags and a code fence
    inject = _tp6_ok(repo_root, klass / "09-markup-injection")
    with (inject / "Dockerfile").open("a", encoding="utf-8") as handle:
        handle.write('LABEL maintainer="<script>alert(1)</script>"\n')
    page = "<img src=x onerror=alert(1)>\\n```\\n<script>alert(2)</script>\\n"
    (inject / "app.py").write_text(
        f'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route("/")\n'
        f'def page():\n    return "{page}"\n',
        encoding="utf-8",
    )

    out = tmp / "reports"
    with PidsWatcher("01-fork-bomb") as watcher:
        code, seconds = _grade([klass], out, *FAST, bound_s=120)
    return {
        "code": code,
        "seconds": seconds,
        "out": out,
        "token": token,
        "canary": canary,
        "watcher": watcher,
        "class": klass,
    }


def test_class_run_completes_with_every_report(
    runtime_class: dict[str, Any], leftovers: Callable[[], Any]
) -> None:
    out = runtime_class["out"]
    assert runtime_class["code"] == 0, "130: stopped at its bound, the class run hung"
    assert runtime_class["seconds"] < 120, runtime_class["seconds"]
    names = sorted(p.name for p in runtime_class["class"].iterdir())
    assert sorted(p.parent.name for p in out.glob("*/report.json")) == names
    summary = (out / "summary.csv").read_bytes().decode("utf-8")
    assert all(name in summary for name in names)
    for name in names:
        _assert_clean_report(out, name)
    assert _ours(leftovers()) == ([], [])


def test_fork_bomb_is_held_by_the_pids_limit(
    runtime_class: dict[str, Any], engine: Engine, leftovers: Callable[[], Any]
) -> None:
    checks = _checks(runtime_class["out"], "01-fork-bomb")
    assert checks["build.succeeds"][0] == "passed"
    # pinned at the limit, it keeps running: it starts, but never serves
    assert checks["run.starts"][0] == "passed", checks["run.starts"][1]
    assert checks["http.root_status"][0] == "failed"  # no HTTP answer: its own failure
    for check in ("http.root_text", "http.not_found"):
        assert checks[check][0] == "not_run"  # blocked by http.root_status
    assert "nothing listens" in checks["http.root_status"][1].lower()
    watcher: PidsWatcher = runtime_class["watcher"]
    assert watcher.limits and set(watcher.limits) == {256}, watcher.problems
    assert watcher.samples, watcher.problems
    assert max(watcher.samples) <= 256
    assert max(watcher.samples) > 50, watcher.samples  # the bomb really went off
    # the machine is usable: the host forks, the engine answers, the next ones were graded
    assert subprocess.run(["true"], check=False, timeout=10).returncode == 0
    assert engine.api.ping()
    assert _checks(runtime_class["out"], "05-latin1-file-name")["http.root_text"][0] == "passed"
    assert _ours(leftovers()) == ([], [])


def test_memory_hog_is_killed_by_the_memory_limit(runtime_class: dict[str, Any]) -> None:
    checks = _checks(runtime_class["out"], "02-memory-hog")
    assert checks["build.succeeds"][0] == "passed"
    status, message = checks["run.starts"]
    assert status == "failed"
    assert "exit status 137" in message, message
    assert "more than its 512m of memory" in message, message
    assert checks["http.root_status"][0] == "not_run"  # blocked by run.starts
    assert "stopped at start (exit status 137)" in checks["http.root_status"][1]


def test_endless_log_is_capped(runtime_class: dict[str, Any]) -> None:
    out = runtime_class["out"]
    checks = _checks(out, "03-endless-log")
    assert checks["run.starts"][0] == "passed"
    assert checks["http.root_status"][0] == "failed"
    assert "nothing listens" in checks["http.root_status"][1].lower()
    log = out / "03-endless-log" / "container.log"
    assert 1_000 < log.stat().st_size < 200_000, log.stat().st_size
    text = log.read_text(encoding="utf-8")
    cut = re.search(r"\[\.\.\. (\d+) characters cut \.\.\.\]", text)
    assert cut is not None, text[:500]
    assert int(cut.group(1)) > 0
    for name in ("report.json", "report.md"):
        assert (out / "03-endless-log" / name).stat().st_size < 200_000


def test_app_that_never_listens(runtime_class: dict[str, Any]) -> None:
    checks = _checks(runtime_class["out"], "04-never-listens")
    assert checks["run.starts"][0] == "passed"
    for check in ("http.root_status", "http.root_text", "http.not_found"):
        status, message = checks[check]
        assert status == ("failed" if check == "http.root_status" else "not_run"), check
        assert "nothing listens in the container after" in message.lower(), message


def test_non_utf8_file_name_is_graded_normally(runtime_class: dict[str, Any]) -> None:
    out = runtime_class["out"]
    report = _report(out, "05-latin1-file-name")
    assert report["score"] == report["max_score"], _checks(out, "05-latin1-file-name")
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8")  # strict: every file is valid UTF-8
            if path.suffix == ".json":
                json.loads(text)


def test_symlink_to_a_host_file_never_leaks(
    runtime_class: dict[str, Any], engine: Engine, leftovers: Callable[[], Any]
) -> None:
    """The context carries the link, not its target (docker-py tars links as links); the
    classic builder resolves ``COPY secret`` inside the context, where it dangles; ``COPY . .``
    copies the link itself, dangling in the image; a linked Dockerfile is not read."""
    out, token = runtime_class["out"], runtime_class["token"].encode()
    assert token not in _all_output(out)

    copied = _checks(out, "06-symlink-copied")
    status, message = copied["build.succeeds"]
    assert status == "failed"
    # the classic builder's words, or BuildKit's (its context carries the link as a link too,
    # resolved inside the context, where it dangles)
    found = "file not found in build context" in message or '": not found' in message
    assert found and "secret" in message, message

    whole = _checks(out, "07-symlink-whole-folder")
    assert whole["build.succeeds"][0] == "passed"
    assert whole["http.root_status"][0] == "passed"
    status, message = whole["http.root_text"]
    assert status == "failed"
    assert "secret unreadable: FileNotFoundError" in message, message

    linked = _checks(out, "08-symlink-dockerfile")
    assert linked["dockerfile.present"][0] == "failed"
    assert linked["dockerfile.base_image"][0] == "not_run"  # blocked by dockerfile.present
    assert linked["build.succeeds"][0] == "not_run"

    # what the image really holds: the link, with its absolute target, and no content
    labels = {LABEL: "1", LABEL_OWNER: OWNER}
    folder = runtime_class["class"] / "07-symlink-whole-folder"
    image_id = container_id = None
    try:
        for chunk in engine.api.build(path=str(folder), labels=labels, rm=True, decode=True):
            assert "error" not in chunk, chunk
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
        assert image_id
        container_id = engine.api.create_container(image_id, labels=labels)["Id"]
        stream, _ = engine.api.get_archive(container_id, "/app")
        data = b"".join(stream)
    finally:
        if container_id:
            engine.api.remove_container(container_id, force=True)
        if image_id:
            engine.api.remove_image(image_id, force=True)
    assert token not in data
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        secret = tar.getmember("app/secret")
    assert secret.issym() and secret.linkname == str(runtime_class["canary"])
    assert _ours(leftovers()) == ([], [])


def test_markup_from_the_student_is_inert_in_report_md(runtime_class: dict[str, Any]) -> None:
    out = runtime_class["out"]
    checks = _checks(out, "09-markup-injection")
    assert checks["dockerfile.label_maintainer"][0] == "passed"
    assert checks["http.root_status"][0] == "passed"
    assert checks["http.root_text"][0] == "failed"
    markdown = (out / "09-markup-injection" / "report.md").read_text(encoding="utf-8")
    prose = _outside_fences(markdown)
    raw = re.compile(r"(?<!\\)</?(script|img)\b", re.IGNORECASE)  # a tag not escaped
    assert not raw.search(prose), [line for line in prose.splitlines() if raw.search(line)]
    # the page is compared as a browser shows it (no <img>, no script): the raw body, tags
    # and all, is only in the evidence, inside a fence
    assert "<img src=x onerror=alert(1)>" in markdown


def test_markup_from_the_student_is_inert_in_report_html(runtime_class: dict[str, Any]) -> None:
    """The label (<script>) and the response body (<img onerror>) arrive escaped in the HTML."""
    page = (runtime_class["out"] / "09-markup-injection" / "report.html").read_text("utf-8")
    assert not re.search(r"<\s*(script|img)\b", page, re.IGNORECASE)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# -- one class run: Dockerfiles that are not what they seem, and a build that hangs ------------


@pytest.fixture(scope="module")
def build_class(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four broken Dockerfiles, then a correct quick submission, graded in one run."""
    tmp = tmp_path_factory.mktemp("hostile-build")
    klass = tmp / "class"
    marker = f"hostile-{secrets.token_hex(6)}"
    hang = _tp6_ok(repo_root, klass / "01-build-hangs")
    (hang / "Dockerfile").write_text(
        f"FROM python:3.11-slim\nRUN echo {marker} && sleep 100000\n", encoding="utf-8"
    )
    empty = _tp6_ok(repo_root, klass / "02-empty-dockerfile")
    (empty / "Dockerfile").write_bytes(b"")
    folder = _tp6_ok(repo_root, klass / "03-dockerfile-is-a-folder")
    (folder / "Dockerfile").unlink()
    (folder / "Dockerfile").mkdir()
    (folder / "Dockerfile" / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
    binary = _tp6_ok(repo_root, klass / "04-binary-dockerfile")
    (binary / "Dockerfile").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    ok = _minimal(repo_root, klass / "05-next-one", ["python", "app.py"])
    (ok / "app.py").write_text(STDLIB_APP, encoding="utf-8")

    out = tmp / "reports"
    code, seconds = _grade([klass], out, "--build-timeout", "5", "--start-timeout", "6", bound_s=60)
    return {"code": code, "seconds": seconds, "out": out, "marker": marker, "class": klass}


def test_build_class_completes(
    build_class: dict[str, Any], engine: Engine, leftovers: Callable[[], Any]
) -> None:
    out = build_class["out"]
    assert build_class["code"] == 0, "130: stopped at its bound, the class run hung"
    assert build_class["seconds"] < 45, build_class["seconds"]
    names = sorted(p.name for p in build_class["class"].iterdir())
    assert sorted(p.parent.name for p in out.glob("*/report.json")) == names
    for name in names:
        _assert_clean_report(out, name)
    assert _ours(leftovers()) == ([], [])
    # the hanging RUN's build container (never labelled) is gone too
    deadline = time.monotonic() + 15
    while True:
        hanging = [
            c["Id"][:12]
            for c in engine.api.containers(all=True)
            if build_class["marker"] in c.get("Command", "")
        ]
        if not hanging or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not hanging, f"build containers still there: {hanging}"


def test_hanging_build_is_stopped_at_its_bound(build_class: dict[str, Any]) -> None:
    checks = _checks(build_class["out"], "01-build-hangs")
    status, message = checks["build.succeeds"]
    assert status == "failed"
    assert "still running after 5 s" in message, message
    assert checks["run.starts"][0] == "not_run"  # blocked by build.succeeds
    assert "did not finish within 5 s" in checks["run.starts"][1]


def test_empty_dockerfile(build_class: dict[str, Any]) -> None:
    checks = _checks(build_class["out"], "02-empty-dockerfile")
    status, message = checks["build.succeeds"]
    assert status == "failed"
    assert "cannot be empty" in message, message
    status, message = checks["dockerfile.base_image"]
    assert status == "failed"
    assert "no FROM" in message, message
    assert checks["run.starts"][0] == "not_run"


def test_dockerfile_that_is_a_folder(build_class: dict[str, Any]) -> None:
    checks = _checks(build_class["out"], "03-dockerfile-is-a-folder")
    status, message = checks["dockerfile.present"]
    assert status == "failed"
    assert "Dockerfile is a folder" in message, message
    for check in ("dockerfile.base_image", "build.succeeds", "run.starts", "http.root_status"):
        status, message = checks[check]
        assert status == "not_run"  # blocked by dockerfile.present
        assert "Not run: there is no Dockerfile" in message, message


def test_binary_dockerfile_is_rejected(build_class: dict[str, Any]) -> None:
    checks = _checks(build_class["out"], "04-binary-dockerfile")
    status, message = checks["dockerfile.present"]
    assert status == "failed" and "binary" in message, message
    judged = {k: v for k, v in checks.items() if k != "dockerfile.present"}
    for check, (status, message) in judged.items():
        assert status == "not_run", (check, message)  # blocked by dockerfile.present
        assert "Not run" in message and "binary" in message, (check, message)
    assert "Traceback" not in (build_class["out"] / "04-binary-dockerfile" / "report.md").read_text(
        encoding="utf-8"
    )


def test_next_submission_is_graded(build_class: dict[str, Any]) -> None:
    checks = _checks(build_class["out"], "05-next-one")
    for check in ("build.succeeds", "run.starts", "http.root_status", "http.root_text"):
        assert checks[check][0] == "passed", checks[check]
    assert checks["http.not_found"][0] == "passed"


# -- non-UTF-8 names that end up in the report itself -----------------------------------------


def _latin1_run(tmp_path: Path, klass: Path) -> tuple[int, Path]:
    out = tmp_path / "reports"
    code, _ = _grade([klass], out, *FAST, bound_s=60)
    return code, out


def _assert_utf8_reports(out: Path, expected: int) -> None:
    reports = sorted(out.glob("*/report.json"))
    assert len(reports) == expected, reports
    for path in reports:
        json.loads(path.read_bytes().decode("utf-8"))
        path.with_name("report.md").read_bytes().decode("utf-8")
    (out / "summary.csv").read_bytes().decode("utf-8")


def test_non_utf8_file_name_listed_in_feedback(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any]
) -> None:
    klass = tmp_path / "class"
    misnamed = _tp6_ok(repo_root, klass / "01-no-dockerfile")
    (misnamed / "Dockerfile").unlink()
    fd = os.open(os.path.join(os.fsencode(misnamed), b"r\xe9sum\xe9.txt"), os.O_WRONLY | os.O_CREAT)
    os.close(fd)
    (klass / "02-next").mkdir()
    code, out = _latin1_run(tmp_path, klass)
    assert code == 0
    _assert_utf8_reports(out, 2)
    status, message = _checks(out, "01-no-dockerfile")["dockerfile.present"]
    assert status == "failed" and "sum" in message
    assert _ours(leftovers()) == ([], [])


def test_non_utf8_submission_folder_name(
    repo_root: Path, tmp_path: Path, leftovers: Callable[[], Any]
) -> None:
    klass = tmp_path / "class"
    klass.mkdir()
    student = Path(os.fsdecode(os.path.join(os.fsencode(klass), b"01-\xe9l\xe8ve")))
    _minimal(repo_root, student, ["sleep", "600"])
    (klass / "02-next").mkdir()
    code, out = _latin1_run(tmp_path, klass)
    assert code == 0
    _assert_utf8_reports(out, 2)
    assert _ours(leftovers()) == ([], [])

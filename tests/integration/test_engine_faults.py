"""The engine goes away mid-class and comes back: affected submissions are `error` with a clear
message, never a traceback, and the others are still graded."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from private_engine import PrivateEngine

from grader.classrun.batch import Graded, grade_class
from grader.engine import Engine
from grader.grading.settings import Options
from grader.labels import LABEL

pytestmark = [pytest.mark.docker, pytest.mark.slow]


APP = """import http.server
import signal
import sys

# as PID 1 a process ignores SIGTERM unless it handles it (gunicorn does): stop like tp6-ok
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        found = self.path == "/"
        self.send_response(200 if found else 404)
        self.end_headers()
        self.wfile.write(b"Hello Docker!" if found else b"Not Found")

http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Hello).serve_forever()
"""


def offline_submission(repo_root: Path, folder: Path) -> None:
    """A correct TP6 submission that needs no network (the private engine has no NAT)."""
    shutil.copytree(repo_root / "submissions" / "tp6-ok", folder)
    (folder / "requirements.txt").write_text("")
    (folder / "app.py").write_text(APP)
    dockerfile = (folder / "Dockerfile").read_text()
    dockerfile = dockerfile.replace('ENTRYPOINT ["gunicorn"]', 'ENTRYPOINT ["python3"]')
    cmd = 'CMD ["--config", "config.py", "app:app"]'
    assert cmd in dockerfile
    (folder / "Dockerfile").write_text(dockerfile.replace(cmd, 'CMD ["app.py"]'))


@pytest.fixture
def private_engine() -> Iterator[PrivateEngine]:
    engine = PrivateEngine("faults", "10.213.7.1/24")
    try:
        engine.start()
        engine.load_image("python:3.11-slim")
        yield engine
    finally:
        engine.destroy()


def test_engine_stopped_then_restarted_mid_class(
    repo_root: Path, tmp_path: Path, private_engine: PrivateEngine
) -> None:
    klass = tmp_path / "class"
    for name in ("s1", "s2", "s3"):
        offline_submission(repo_root, klass / name)
    out = tmp_path / "reports"
    seen: list[str] = []

    def on_graded(graded: Graded) -> None:
        seen.append(graded.report.submission)
        if graded.report.submission == "s1":
            private_engine.stop()  # gone while s2 is graded
        elif graded.report.submission == "s2":
            private_engine.start()  # back for s3

    engine = Engine(private_engine.url)
    try:
        reports = grade_class([klass], "tp6", Options(lang="en"), out, engine, on_graded)
    finally:
        engine.close()
    assert seen == ["s1", "s2", "s3"]
    by_name = {r.submission: r for r in reports}
    assert by_name["s1"].score == 20 and by_name["s3"].score == 20
    s2 = by_name["s2"]
    assert {c.status.value for c in s2.checks if c.id.startswith(("build", "image", "run"))} == {
        "error"
    }
    message = next(c.message for c in s2.checks if c.id == "build.succeeds")
    assert "Docker engine problem (not your fault)" in message
    assert "Traceback" not in (out / "s2" / "report.json").read_text(encoding="utf-8")
    json.loads((out / "s2" / "report.json").read_text(encoding="utf-8"))
    leftovers = Engine(private_engine.url)
    try:
        assert leftovers.api.containers(all=True, filters={"label": LABEL}) == []
        assert leftovers.api.images(filters={"label": LABEL}) == []
    finally:
        leftovers.close()

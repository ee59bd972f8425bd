"""Trust boundaries on the real engine (issue 15): what a hostile submission tries, refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import secret
from grader.cli import main
from grader.results import CheckResult, Status, assemble
from grader.reuse import grader_digest
from grader.settings import Options
from grader.submission import files_hash

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

"""A reuse key a student cannot forge, and earlier reports never read from a submission."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.classrun import secret
from grader.classrun.reuse import grader_digest, key_of, reached_through, reusable
from grader.facts.results import CheckResult, Status, assemble
from grader.grading.settings import Options
from grader.intake.submission import load_submission
from grader.labs.spec import load_lab


def student_key(sub_root: Path, lab_text: bytes, options: Options) -> str:
    """What a student can compute from the grader's public source and their own files."""
    sub = load_submission(sub_root)
    digest = hashlib.sha256()
    for part in (sub.files_hash.encode(), lab_text, repr(options).encode()):
        digest.update(hashlib.sha256(part).digest())
    digest.update(hashlib.sha256(grader_digest().encode()).digest())
    return digest.hexdigest()


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A grading machine with its own cache folder and no secret yet."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(secret.ENV, raising=False)
    secret.reuse_secret.cache_clear()
    yield tmp_path / "cache"
    secret.reuse_secret.cache_clear()


def test_a_key_computed_from_public_inputs_is_not_reused(machine: Path, tmp_path: Path) -> None:
    root = tmp_path / "alice"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM python:3.11-slim\n")
    lab = load_lab("tp6")
    forged = student_key(root, lab.source.read_bytes(), Options())
    check = CheckResult("build.succeeds", Status.PASSED, 20, 20, "", None)
    report = assemble("alice", "tp6", [check], reuse_key=forged)
    key = key_of(load_submission(root), lab, Options())
    assert not reusable(report, key)
    # the same machine verifies its own reports on the next run (a new process)
    secret.reuse_secret.cache_clear()
    assert key_of(load_submission(root), lab, Options()) == key
    assert reusable(assemble("alice", "tp6", [check], reuse_key=key), key)


def test_the_secret_is_made_once_readable_by_its_owner_only(machine: Path) -> None:
    first = secret.reuse_secret()
    path = machine / "docker-lab-grader" / "reuse.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= secret.KEY_BYTES
    secret.reuse_secret.cache_clear()
    assert secret.reuse_secret() == first


def test_the_secret_can_be_given(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(secret.ENV, "a CI runner's secret")
    assert secret.reuse_secret() == b"a CI runner's secret"
    assert not (machine / "docker-lab-grader" / "reuse.key").exists()


def test_reports_inside_the_submission_are_never_read(tmp_path: Path) -> None:
    root = tmp_path / "alice"
    (root / "node_modules" / "forged" / "alice").mkdir(parents=True)
    (root / "reports").symlink_to("node_modules/forged")
    outside = tmp_path / "class-reports"
    (outside / "alice").mkdir(parents=True)
    assert reached_through(root / "reports", "alice", root)  # by its path
    assert reached_through(tmp_path / "elsewhere" / ".." / "alice" / "reports", "alice", root)
    link = tmp_path / "out-link"
    link.symlink_to(root / "node_modules" / "forged")
    assert reached_through(link, "alice", root)  # through a link to it
    assert not reached_through(outside, "alice", root)
    (outside / "carol").symlink_to(root / "node_modules" / "forged" / "alice")
    assert reached_through(outside, "carol", root)  # its report folder is a link into it

"""Git intake with real repositories made here, with dated commits, served over file://: the
commit at a deadline, the cache (no second clone, a new commit fetched), no hook ever run."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.facts.results import Status
from grader.intake import git
from grader.intake.outcomes import IntakeFailed
from grader.intake.sources import IntakeOptions, arrive, open_class
from grader.intake.urls import is_git_url, repo_name

ROOT = Path(__file__).resolve().parents[2]


def run_git(repo: Path, *args: str, date: str = "2026-11-01T10:00:00+00:00") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
           "GIT_AUTHOR_NAME": "Student", "GIT_AUTHOR_EMAIL": "s@example.edu",
           "GIT_COMMITTER_NAME": "Student", "GIT_COMMITTER_EMAIL": "s@example.edu"}  # fmt: skip
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], date: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    run_git(repo, "add", "-A", date=date)
    run_git(repo, "commit", "-q", "-m", f"work of {date}", date=date)
    return run_git(repo, "rev-parse", "HEAD")


@pytest.fixture
def student_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "origin" / "tp6-alice"
    repo.mkdir(parents=True)
    run_git(repo, "init", "-q", "-b", "main")
    commit(repo, {"TP6/Dockerfile": "FROM python:3.11-slim\n"}, "2026-11-01T10:00:00+00:00")
    commit(repo, {"TP6/app.py": "print('v2')\n"}, "2026-11-10T10:00:00+00:00")
    commit(repo, {"TP6/app.py": "print('late')\n"}, "2026-11-20T10:00:00+00:00")
    return repo


def test_git_urls_are_told_from_paths() -> None:
    for url in ("https://github.com/o/tp6-alice.git", "ssh://git@host/o/r", "file:///srv/r",
                "git@github.com:o/tp6-bob.git"):  # fmt: skip
        assert is_git_url(url), url
    for path in ("submissions/tp6-ok", "./alice", "C:/x", "/srv/r", "alice.zip"):
        assert not is_git_url(path), path
    assert repo_name("git@github.com:o/tp6-bob.git") == "tp6-bob"
    assert repo_name("https://github.com/o/tp6-alice/") == "tp6-alice"


def test_the_commit_at_the_deadline_is_graded_and_later_ones_counted(
    student_repo: Path, tmp_path: Path
) -> None:
    url = f"file://{student_repo}"
    deadline = datetime(2026, 11, 15, tzinfo=UTC)
    options = IntakeOptions(urls=(url,), deadline=deadline, cache=tmp_path / "cache")
    with contextlib.ExitStack() as stack:
        (source,) = open_class([], options, stack)
    assert source.name == "tp6-alice" and source.identity.url == url
    expected = run_git(student_repo, "rev-parse", "HEAD~1")
    with arrive(source, options) as arrival:
        assert (arrival.folder / "TP6" / "app.py").read_text() == "print('v2')\n"
        assert not (arrival.folder / ".git").exists()
        who = arrival.identity
    assert (who.sha, who.later_commits) == (expected, 1)
    assert datetime.fromisoformat(who.commit_date) == datetime(2026, 11, 10, 10, tzinfo=UTC)
    assert who.origin()["later_commits"] == 1 and who.origin()["url"] == url


def test_no_commit_before_the_deadline_is_a_failed_intake(
    student_repo: Path, tmp_path: Path
) -> None:
    options = IntakeOptions(deadline=datetime(2026, 10, 1, tzinfo=UTC), cache=tmp_path / "c")
    with contextlib.ExitStack() as stack:
        (source,) = open_class([], IntakeOptions(urls=(f"file://{student_repo}",)), stack)
    with pytest.raises(IntakeFailed) as caught, arrive(source, options):
        pass
    assert caught.value.key == "intake.no_commit" and caught.value.status is Status.FAILED


def test_a_repository_that_cannot_be_cloned_is_an_error(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/absent.git"
    options = IntakeOptions(urls=(url,), cache=tmp_path / "c")
    with contextlib.ExitStack() as stack:
        (source,) = open_class([], options, stack)
    with pytest.raises(IntakeFailed) as caught, arrive(source, options):
        pass
    assert caught.value.key == "intake.clone_failed" and caught.value.status is Status.ERROR
    assert caught.value.params["url"] == url and caught.value.params["reason"]


def test_the_cache_clones_once_and_fetches_new_commits(student_repo: Path, tmp_path: Path) -> None:
    url, cache = f"file://{student_repo}", tmp_path / "cache"
    mirror = git.mirror(url, cache)
    marker = mirror / "grader-marker"
    marker.write_text("kept")  # a second clone would not keep it
    new = commit(student_repo, {"TP6/app.py": "print('v4')\n"}, "2026-11-21T10:00:00+00:00")
    assert git.mirror(url, cache) == mirror and marker.exists()
    assert git.pick_commit(mirror, None).sha == new


def test_no_hook_ever_runs_not_even_one_in_the_cache(student_repo: Path, tmp_path: Path) -> None:
    url, cache = f"file://{student_repo}", tmp_path / "cache"
    mirror = git.mirror(url, cache)
    witness = tmp_path / "hook-ran"
    for name in ("reference-transaction", "post-checkout", "post-index-change"):
        hook = mirror / "hooks" / name  # git runs these on fetch, checkout and index writes
        hook.write_text(f"#!/bin/sh\ntouch {witness}\n")
        hook.chmod(0o755)
    commit(student_repo, {"TP6/app.py": "print('v4')\n"}, "2026-11-21T10:00:00+00:00")
    options = IntakeOptions(urls=(url,), cache=cache)
    with contextlib.ExitStack() as stack:
        (source,) = open_class([], options, stack)
    with arrive(source, options) as arrival:
        assert (arrival.folder / "TP6" / "app.py").read_text() == "print('v4')\n"
    assert not witness.exists()


def test_a_classroom_clone_records_its_head(student_repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "student-repos" / "tp6-alice"
    shutil.copytree(student_repo, clone)
    with contextlib.ExitStack() as stack:
        (source,) = open_class([clone], IntakeOptions(), stack)
    with arrive(source, IntakeOptions()) as arrival:
        who = arrival.identity
    assert (who.kind, who.sha) == ("clone", run_git(student_repo, "rev-parse", "HEAD"))

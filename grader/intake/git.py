"""Git repositories: clone once into a cache and fetch on later runs, pick the commit to grade
(the last one at or before a deadline), write its files out; never run anything from a repo.

Every command runs ``git`` with hooks off (``core.hooksPath=/dev/null``), no file-system
monitor, no ``ext::`` transport and no prompt; files are written with ``checkout-index`` into
a fresh folder (no hook, no ``.git``), so the build sees exactly the commit's files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.errors import SubmissionError

SAFE_CONFIG = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "protocol.ext.allow=never",
    "-c", "safe.directory=*",
)  # fmt: skip
CLONE_TIMEOUT_S = 300.0
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


class GitFailed(SubmissionError):
    """A git command failed (the repository cannot be cloned or read): ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NoCommitBefore(SubmissionError):
    """The repository has no commit at or before the deadline."""

    def __init__(self, deadline: datetime, first: str) -> None:
        self.deadline, self.first = deadline, first
        super().__init__(f"no commit at or before {deadline.isoformat()} (first: {first})")


@dataclass(frozen=True)
class Commit:
    """The commit graded."""

    sha: str
    date: str
    """Committer date, ISO 8601."""
    later: int = 0
    """Commits on the branch after it (after the deadline), left out."""


def cache_root() -> Path:
    """Where clones are kept between runs: ``$XDG_CACHE_HOME/docker-lab-grader/repos``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "docker-lab-grader" / "repos"


def git(*args: str, env: dict[str, str] | None = None, timeout: float = CLONE_TIMEOUT_S) -> str:
    """Run git safely; its output.

    Raises:
        GitFailed: git failed or took too long (the reason: its last line of error).
    """
    environ = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false",
               "GIT_SSH_COMMAND": "ssh -o BatchMode=yes", **(env or {})}  # fmt: skip
    try:
        done = subprocess.run(["git", *SAFE_CONFIG, *args], capture_output=True, text=True,
                              env=environ, timeout=timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise GitFailed(f"git {args[0]} took more than {timeout:.0f} s") from exc
    except OSError as exc:
        raise GitFailed(f"git cannot run: {exc}") from exc
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        raise GitFailed(lines[-1] if lines else f"git {args[0]} failed ({done.returncode})")
    return done.stdout


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def mirror(url: str, cache: Path) -> Path:
    """The repository's mirror in ``cache``: cloned the first time, fetched afterwards.

    Raises:
        GitFailed: it cannot be cloned or fetched.
    """
    path = cache / hashlib.sha256(url.encode("utf-8")).hexdigest()[:24]
    with _lock(path):
        if (path / "HEAD").is_file():
            git("--git-dir", str(path), "fetch", "--quiet", "--prune", "--force", "origin")
            return path
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=cache))
        try:
            git("clone", "--quiet", "--mirror", "--", url, str(tmp / "repo.git"))
            (tmp / "repo.git" / "grader-url").write_text(url + "\n", encoding="utf-8")
            os.replace(tmp / "repo.git", path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return path


def pick_commit(repo: Path, deadline: datetime | None) -> Commit:
    """The commit to grade on the default branch: its last one, or with ``deadline`` the last
    whose committer date is at or before it.

    Raises:
        GitFailed: an empty or unreadable repository.
        NoCommitBefore: every commit is after the deadline.
    """
    try:
        lines = git("--git-dir", str(repo), "log", "--format=%H %cI", "HEAD").split()
    except GitFailed as exc:
        raise GitFailed(f"the repository has no commit to grade ({exc.reason})") from exc
    commits = list(zip(lines[::2], lines[1::2], strict=True))
    if not commits:
        raise GitFailed("the repository has no commit to grade")
    if deadline is None:
        return Commit(*commits[0])
    before = [(sha, date) for sha, date in commits if datetime.fromisoformat(date) <= deadline]
    if not before:
        raise NoCommitBefore(deadline, commits[-1][1])
    sha, date = max(before, key=lambda c: datetime.fromisoformat(c[1]))
    later = int(git("--git-dir", str(repo), "rev-list", "--count", f"{sha}..HEAD").strip())
    return Commit(sha, date, later)


def write_tree(repo: Path, sha: str, dest: Path) -> None:
    """Write the files of commit ``sha`` into the empty folder ``dest`` (no ``.git``).

    Raises:
        GitFailed: git could not write them.
    """
    with tempfile.TemporaryDirectory(prefix="grader-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git("--git-dir", str(repo), "read-tree", sha, env=env)
        tree = ("--git-dir", str(repo), "--work-tree", str(dest))
        git(*tree, "checkout-index", "--all", "--force", env=env)


def head_of(folder: Path) -> Commit | None:
    """The HEAD commit of a folder that is a git clone (``gh classroom clone``), else None."""
    if not (folder / ".git").exists():
        return None
    try:
        sha, date = git("-C", str(folder), "log", "-1", "--format=%H %cI", "HEAD").split()
    except (GitFailed, ValueError):
        return None
    return Commit(sha, date)

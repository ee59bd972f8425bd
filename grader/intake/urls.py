"""Git URLs given as PATHs: recognised with the standard library's ``re`` alone (the command
line checks its arguments before it loads anything else)."""

from __future__ import annotations

import re

GIT_URL = re.compile(r"^(?:https?://|ssh://|git://|file://|[\w.+-]+@[\w.-]+:(?!//))\S+$")
"""``https://``, ``ssh://``, ``git://``, ``file://`` or scp-like ``git@host:owner/repo``."""


def is_git_url(text: str) -> bool:
    """True when a PATH argument is a git URL rather than a file or folder."""
    return bool(GIT_URL.match(text))


def repo_name(url: str) -> str:
    """A repository's name from its URL: ``tp6-alice`` for ``https://host/org/tp6-alice.git``."""
    last = re.split(r"[/:]", url.rstrip("/"))[-1]
    return last.removesuffix(".git") or "repository"

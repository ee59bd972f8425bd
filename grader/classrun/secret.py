"""The grading machine's own secret: what makes a reuse key something a student cannot forge.

``GRADER_REUSE_SECRET`` when set (a CI runner's secret, for example); otherwise a random key
created once, readable by its owner only (0600), at
``$XDG_CACHE_HOME/docker-lab-grader/reuse.key`` (``~/.cache/...`` by default), and kept: the
reports written on this machine still verify on the next run. A machine without it (a fresh CI
runner) makes a new one, so a report it did not write is never reused.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "GRADER_REUSE_SECRET"
KEY_BYTES = 32


def secret_path() -> Path:
    """Where the machine's reuse secret is kept."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "docker-lab-grader" / "reuse.key"


def _read_or_create(path: Path) -> bytes:
    """The key in ``path``, created (0600, never overwritten) when missing or empty."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
        if len(key) >= KEY_BYTES:
            return key
        log.warning("reuse secret %s is too short: a new one replaces it", path)
        path.unlink()
        return _read_or_create(path)
    key = secrets.token_hex(KEY_BYTES).encode()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


@functools.cache
def reuse_secret() -> bytes:
    """The key reuse keys are signed with (read or made once per process).

    When no key can be kept (a read-only home), a random one serves this run alone: nothing
    is reused, nothing is forged.
    """
    given = os.environ.get(ENV, "")
    if given:
        return given.encode()
    try:
        return _read_or_create(secret_path())
    except OSError as exc:
        log.warning("no reuse secret can be kept (%s): earlier reports are graded again", exc)
        return secrets.token_hex(KEY_BYTES).encode()

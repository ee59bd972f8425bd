"""Reuse a previous report when nothing it depends on changed: keys and lookup."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from grader import __version__
from grader.facts import Submission
from grader.lab import LabSpec
from grader.report import submission_dir
from grader.results import Status, SubmissionReport
from grader.settings import Options

log = logging.getLogger(__name__)


def reuse_key(files_hash: str, lab_text: bytes, options: Options, version: str) -> str:
    """A digest of everything a report depends on (pure): the submission's files, the lab
    file's content, the grading options (language, limits) and the grader's version."""
    digest = hashlib.sha256()
    for part in (files_hash.encode(), lab_text, repr(options).encode(), version.encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def key_of(sub: Submission, lab: LabSpec, options: Options) -> str:
    """The reuse key of one submission graded against ``lab`` with ``options``."""
    return reuse_key(sub.files_hash, lab.source.read_bytes(), options, __version__)


def previous_report(output: Path, name: str) -> SubmissionReport | None:
    """The report an earlier run left in ``output`` (written atomically), or None."""
    path = submission_dir(output, name) / "report.json"
    try:
        return SubmissionReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("previous report of %s unreadable: %s", name, exc)
        return None


def reusable(previous: SubmissionReport | None, key: str) -> bool:
    """True when ``previous`` was computed from the same inputs and the grader did not fail
    on it (an ``error`` check may have been the engine's passing fault: grade it again)."""
    return (
        previous is not None
        and bool(key)
        and previous.reuse_key == key
        and all(c.status is not Status.ERROR for c in previous.checks)
    )

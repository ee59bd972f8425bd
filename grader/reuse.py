"""Reuse a previous report when nothing it depends on changed: keys and lookup."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path

from grader import __version__
from grader.facts import Submission
from grader.lab import LabSpec, rubric_dir
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


@functools.cache
def grader_digest() -> str:
    """The grader's version and a digest of its own code and data (the package, its message
    catalogues and labs, the rubric): a change to any of them regrades, whatever the version
    says. Computed once per process."""
    package = Path(__file__).parent
    files = [*package.rglob("*.py"), *package.rglob("*.toml"), *rubric_dir().glob("*.py")]
    return code_digest(__version__, files)


def code_digest(version: str, files: list[Path]) -> str:
    """``version+<digest of the files' names and contents>`` (order-independent)."""
    digest = hashlib.sha256(version.encode())
    for path in sorted(set(files)):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return f"{version}+{digest.hexdigest()[:16]}"


def key_of(sub: Submission, lab: LabSpec, options: Options) -> str:
    """The reuse key of one submission graded against ``lab`` with ``options``."""
    return reuse_key(sub.files_hash, lab.source.read_bytes(), options, grader_digest())


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


KEPT_ERRORS = frozenset({"registry"})
"""Causes of an ``error`` on a ``registry.*`` check that do not stop a report's reuse: a
registry outside this machine that did not answer about the declared image (offline, or
down) answers no better a minute later, and grading the submission again would only say so
again; ``--force`` regrades it when the network is back. Every other error (the engine, a
tool, the grader itself, this machine's network, a report that does not say) and any error
on another check (a base image the build could not pull) may have been a passing fault, and
the verdict hinges on it: the submission is graded again."""


def _kept(check_id: str, cause: str) -> bool:
    return check_id.startswith("registry.") and cause in KEPT_ERRORS


def reusable(previous: SubmissionReport | None, key: str) -> bool:
    """True when ``previous`` was computed from the same inputs and none of its ``error``
    checks is one to retry (see ``KEPT_ERRORS``)."""
    return (
        previous is not None
        and bool(key)
        and previous.reuse_key == key
        and all(c.status is not Status.ERROR or _kept(c.id, c.cause) for c in previous.checks)
    )

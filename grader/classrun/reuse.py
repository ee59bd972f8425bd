"""Reuse a previous report when nothing it depends on changed: keys and lookup."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
from pathlib import Path

import grader
from grader import __version__
from grader.classrun.secret import reuse_secret
from grader.facts import Submission
from grader.facts.results import Status, SubmissionReport
from grader.grading.legacy import read_report
from grader.grading.settings import Options
from grader.labs.spec import LabSpec, rubric_dir
from grader.report import submission_dir

log = logging.getLogger(__name__)


def reuse_key(
    files_hash: str, lab_text: bytes, options: Options, version: str, *, secret: bytes
) -> str:
    """A digest of everything a report depends on (pure): the submission's files, the lab
    file's content, the grading options (language, limits) and the grader's version, signed
    (HMAC-SHA-256) with the grading machine's ``secret`` (``grader.classrun.secret``): a student who
    knows every input still cannot compute it, so a forged report.json is never reused."""
    digest = hmac.new(secret, digestmod=hashlib.sha256)
    for part in (files_hash.encode(), lab_text, repr(options).encode(), version.encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


@functools.cache
def grader_digest() -> str:
    """The grader's version and a digest of its own code and data (the package, its message
    catalogues and labs, the rubric): a change to any of them regrades, whatever the version
    says. Computed once per process."""
    package = Path(grader.__file__).parent
    files = [*package.rglob("*.py"), *package.rglob("*.toml"), *rubric_dir().glob("*.py")]
    return code_digest(__version__, files)


def code_digest(version: str, files: list[Path]) -> str:
    """``version+<digest of the files' names and contents>`` (order-independent)."""
    digest = hashlib.sha256(version.encode())
    for path in sorted(set(files)):
        with path.open("rb") as handle:
            content = hashlib.file_digest(handle, "sha256").digest()
        digest.update(path.name.encode() + b"\0" + content)
    return f"{version}+{digest.hexdigest()[:16]}"


def key_of(sub: Submission, lab: LabSpec, options: Options) -> str:
    """The reuse key of one submission graded against ``lab`` with ``options``."""
    if not sub.files_hash:  # too large to hash: graded again every time
        return ""
    lab_text = lab.source.read_bytes()
    return reuse_key(sub.files_hash, lab_text, options, grader_digest(), secret=reuse_secret())


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def reached_through(output: Path, name: str, submission: Path) -> bool:
    """True when the earlier report of ``name`` in ``output`` is inside ``submission``, by its
    path (``grade . --output reports``) or through links (``reports`` committed as a link
    into an ignored folder): a report the student could have written is never read."""
    report = submission_dir(output, name) / "report.json"
    root, real_root = Path(os.path.abspath(submission)), submission.resolve()
    return any(
        _within(path, base)
        for path in (Path(os.path.abspath(output)), output.resolve(), report.resolve())
        for base in (root, real_root)
    )


def previous_report(output: Path, name: str) -> SubmissionReport | None:
    """The report an earlier run left in ``output`` (written atomically), or None."""
    path = submission_dir(output, name) / "report.json"
    try:
        return read_report(json.loads(path.read_text(encoding="utf-8")))
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
        and hmac.compare_digest(previous.reuse_key, key)
        and all(c.status is not Status.ERROR or _kept(c.id, c.cause) for c in previous.checks)
    )

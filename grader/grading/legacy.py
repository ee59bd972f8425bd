"""Convert a report.json written before ``schema_version`` 2 to today's statuses (pure).

Version 1 wrote a check that could not run as ``failed`` with a "not run" message, advice not
followed as ``failed`` with 0 points, and (never in practice) ``skipped``. Reports of that
version still load for reuse and ``--regrade``: a "not run" message, recognised from the
message catalogues in either language, becomes ``not_run`` blocked by the check it names;
advice ``failed`` becomes ``advice``; ``skipped`` becomes ``not_run``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from grader.facts.results import SCHEMA_VERSION, SubmissionReport
from grader.grading.verdicts import owners_of
from grader.i18n import LANGS, catalogue


@functools.cache
def not_run_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(pattern of a ``not_run.<key>`` summary in one language, key), every language."""
    found = []
    for lang in LANGS:
        for key, fields in catalogue(lang).get("not_run", {}).items():
            summary = fields.get("summary", "") if isinstance(fields, dict) else ""
            if summary:
                parts = re.split(r"\{[^{}]*\}", summary)
                found.append((re.compile("^" + ".*".join(map(re.escape, parts)) + "$", re.S), key))
    return tuple(found)


def not_run_key(summary: str) -> str | None:
    """The ``not_run.<key>`` a version-1 summary was written from, or None."""
    return next((key for pattern, key in not_run_patterns() if pattern.match(summary)), None)


def upgrade_check(check: dict[str, Any], dockerfile_read: bool = False) -> dict[str, Any]:
    """One version-1 check as version 2 (unchanged when nothing applies); ``dockerfile_read``:
    the report's ``dockerfile.present`` passed (a rejection was then the build context's)."""
    status, out = check.get("status"), dict(check)
    if status == "skipped":
        out["status"] = "not_run"
    elif status == "failed":
        feedback = check.get("feedback") or {}
        summary = feedback.get("summary") or str(check.get("message", "")).split("\n")[0]
        owners = owners_of(key, dockerfile_read) if (key := not_run_key(summary)) else ()
        if owners and check.get("id") not in owners:
            out.update(status="not_run", score=0.0, blocked_by=owners[0])
        elif float(check.get("max_score", 0)) == 0:
            out["status"] = "advice"
    return out


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 report.json mapping as version 2."""
    read = any(
        c.get("id") == "dockerfile.present" and c.get("status") == "passed"
        for c in data.get("checks", [])
    )
    checks = [upgrade_check(c, read) for c in data.get("checks", [])]
    return {**data, "schema_version": SCHEMA_VERSION, "checks": checks}


def read_report(data: dict[str, Any]) -> SubmissionReport:
    """A report.json mapping of any schema version as today's report (version 1 converted)."""
    if data.get("schema_version", 1) < SCHEMA_VERSION:
        data = upgrade(data)
    return SubmissionReport.from_dict(data)

"""GitHub Classroom's result line: ``result=<base64 JSON>`` appended to ``$GITHUB_OUTPUT``, in
the format of Classroom's autograding runners (``version``, ``status``, ``max_score``,
``tests[]``), which ``classroom-resources/autograding-grading-reporter`` decodes, shows check
by check and sums into the points Classroom records."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.facts.results import CheckResult, Status, SubmissionReport

log = logging.getLogger(__name__)
VERSION = 1
"""The runners' result format version."""


def test_status(check: CheckResult) -> str:
    """``pass``, ``error`` or ``fail`` (every other status)."""
    if check.status is Status.PASSED:
        return "pass"
    return "error" if check.status is Status.ERROR else "fail"


def result(reports: Sequence[SubmissionReport]) -> dict[str, Any]:
    """The runner result of the graded submissions (one, in a student's CI; the tests of each
    named after its submission when there are several)."""
    several = len(reports) > 1
    tests = [
        {
            "name": f"{r.submission}: {c.id}" if several else c.id,
            "status": test_status(c),
            "score": c.score,
            "max_score": c.max_score,
            "message": c.message,
            "test_code": "",
            "filename": "",
            "line_no": 0,
            "duration": 0,
        }
        for r in reports
        for c in r.checks
    ]
    checks = [c for r in reports for c in r.checks]
    if any(c.status is Status.ERROR for c in checks):
        status = "error"
    elif any(c.status is not Status.PASSED and not c.is_advice for c in checks):
        status = "fail"
    else:
        status = "pass"
    total = round(sum(r.max_score for r in reports), 2)
    return {"version": VERSION, "status": status, "max_score": total, "tests": tests}


def result_line(reports: Sequence[SubmissionReport]) -> str:
    """``result=<base64 of the JSON>``, one line."""
    text = json.dumps(result(reports), ensure_ascii=False, separators=(",", ":"))
    return "result=" + base64.b64encode(text.encode("utf-8")).decode("ascii")


def append_result_line(path: Path, reports: Sequence[SubmissionReport]) -> None:
    """Append the result line to ``$GITHUB_OUTPUT`` (a failure to write is logged, not raised:
    the reports are written already)."""
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(result_line(reports) + "\n")
    except OSError as exc:
        log.warning("cannot write the Classroom result line to %s: %s", path, exc)

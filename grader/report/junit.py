"""junit.xml: one test case per check, for CI systems (GitHub, GitLab, Jenkins)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.facts.results import CheckResult, Status, SubmissionReport
from grader.i18n import t

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 forbids anywhere in a document (most C0 controls, lone surrogates,
U+FFFE/U+FFFF): a build log or a file name can hold them, and one makes the file unreadable."""


def xml_chars(text: str) -> str:
    """``text`` with every character XML 1.0 forbids written as a visible escape (``\\x1b``)."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _skip_message(check: CheckResult, summary: str, lang: str) -> str:
    """Why a check not run or advice not followed reads as a skip (from the catalogue)."""
    label = t(f"statuses.status_{check.status.value}", lang)
    if check.blocked_by:
        label += f" ({t('statuses.blocked_by', lang, check=check.blocked_by)})"
    return f"{label}: {summary}"


def render(report: SubmissionReport) -> tuple[str, str]:
    """``junit.xml``: a suite per submission; failed checks are failures, grader faults errors,
    checks not run (with what blocked them) and advice not followed (worth no points) skips
    whose message says so, so that a CI job's test report goes red only for the student's
    real failures."""
    skips = (Status.NOT_RUN, Status.ADVICE)
    counts = {s: sum(c.status is s for c in report.checks) for s in Status}
    suites = ET.Element("testsuites", name=f"docker-lab-grader {report.lab}")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=report.submission,
        tests=str(len(report.checks)),
        failures=str(counts[Status.FAILED]),
        errors=str(counts[Status.ERROR]),
        skipped=str(sum(counts[s] for s in skips)),
    )
    for check in report.checks:
        stage = check.id.split(".", 1)[0]
        case = ET.SubElement(
            suite, "testcase", classname=f"{report.lab}.{stage}", name=check.id, time="0"
        )
        summary = check.feedback.summary if check.feedback else check.message
        text = check.message + (f"\n\n{check.feedback.evidence}" if check.feedback else "")
        if check.status is Status.FAILED:
            ET.SubElement(case, "failure", message=summary, type="failed").text = text
        elif check.status is Status.ERROR:
            ET.SubElement(case, "error", message=summary, type="error").text = text
        elif check.status in skips:
            message = _skip_message(check, summary, report.lang)
            ET.SubElement(case, "skipped", message=message).text = text
        ET.SubElement(case, "properties").append(
            ET.Element("property", name="points", value=f"{check.score:g}/{check.max_score:g}")
        )
    ET.indent(suites)
    text = ET.tostring(suites, encoding="unicode", xml_declaration=True)
    return "junit.xml", xml_chars(text) + "\n"

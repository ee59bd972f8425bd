"""junit.xml: one test case per check, for CI systems (GitHub, GitLab, Jenkins)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.results import CheckResult, Status, SubmissionReport

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 forbids anywhere in a document (most C0 controls, lone surrogates,
U+FFFE/U+FFFF): a build log or a file name can hold them, and one makes the file unreadable."""


def xml_chars(text: str) -> str:
    """``text`` with every character XML 1.0 forbids written as a visible escape (``\\x1b``)."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _outcome(check: CheckResult) -> Status:
    """How a check reads in JUnit: advice not followed is a skip, not a failure."""
    return Status.SKIPPED if check.is_advice and check.status is Status.FAILED else check.status


def render(report: SubmissionReport) -> tuple[str, str]:
    """``junit.xml``: a suite per submission; failed checks are failures, grader faults errors,
    and advice not followed (worth no points) a skip whose message is the advice, so that a CI
    job's test report does not go red for a bonus."""
    counts = {s: sum(_outcome(c) is s for c in report.checks) for s in Status}
    suites = ET.Element("testsuites", name=f"docker-lab-grader {report.lab}")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=report.submission,
        tests=str(len(report.checks)),
        failures=str(counts[Status.FAILED]),
        errors=str(counts[Status.ERROR]),
        skipped=str(counts[Status.SKIPPED]),
    )
    for check in report.checks:
        stage = check.id.split(".", 1)[0]
        case = ET.SubElement(
            suite, "testcase", classname=f"{report.lab}.{stage}", name=check.id, time="0"
        )
        summary = check.feedback.summary if check.feedback else check.message
        text = check.message + (f"\n\n{check.feedback.evidence}" if check.feedback else "")
        outcome = _outcome(check)
        if outcome is Status.FAILED:
            ET.SubElement(case, "failure", message=summary, type="failed").text = text
        elif outcome is Status.ERROR:
            ET.SubElement(case, "error", message=summary, type="error").text = text
        elif outcome is Status.SKIPPED and check.status is Status.FAILED:
            ET.SubElement(case, "skipped", message=f"advice (no points): {summary}").text = text
        elif outcome is Status.SKIPPED:
            ET.SubElement(case, "skipped", message=summary)
        ET.SubElement(case, "properties").append(
            ET.Element("property", name="points", value=f"{check.score:g}/{check.max_score:g}")
        )
    ET.indent(suites)
    text = ET.tostring(suites, encoding="unicode", xml_declaration=True)
    return "junit.xml", xml_chars(text) + "\n"

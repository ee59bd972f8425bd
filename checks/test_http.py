"""Rubric checks on the app's HTTP answers, through the port published on 127.0.0.1."""

from __future__ import annotations

from grader.facts import ProbeResult
from grader.grading.rubric import Grade, check, excerpt, text_matches
from grader.labs.params import NotFoundParams, StatusParams, TextParams


@check("http.root_status")
def test_root_status(root_probe: ProbeResult, grade: Grade) -> None:
    """The lab's page answers with the expected status."""
    params: StatusParams = grade.params
    if root_probe.status != params.expected:
        grade.fail(
            expected_status=params.expected,
            status=root_probe.status,
            body=excerpt(root_probe.body),
            evidence=root_probe.body[:1000],
        )


@check("http.root_text")
def test_root_text(root_probe: ProbeResult, grade: Grade) -> None:
    """The lab's page holds the expected text, as a browser shows it (tags stripped, scripts
    and styles dropped, entities decoded)."""
    p: TextParams = grade.params
    if not text_matches(
        root_probe.page, p.expected, p.match, p.normalize_whitespace, p.case_sensitive
    ):
        grade.fail(text=p.expected, body=excerpt(root_probe.page), evidence=root_probe.body[:1000])


@check("http.not_found")
def test_not_found(missing_probe: ProbeResult, grade: Grade) -> None:
    """A path that does not exist answers with an error status, not a page."""
    params: NotFoundParams = grade.params
    if missing_probe.status != params.expected:
        grade.fail(
            expected_status=params.expected,
            status=missing_probe.status,
            path=missing_probe.url.split("/", 3)[-1],
        )

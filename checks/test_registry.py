"""Rubric checks on the image the student pushed to a registry (declared in submission.toml)."""

from __future__ import annotations

from grader.facts import Declaration, ProbeResult
from grader.grading.rubric import Grade, check, excerpt, text_matches
from grader.labs.params import TextParams
from grader.labs.spec import LabSpec


@check("registry.pushed")
def test_pushed(declaration: Declaration, registry_status: int, grade: Grade) -> None:
    """The declared image exists in its registry."""
    if registry_status in (401, 403, 404):
        grade.fail("absent", image=declaration.image, status=registry_status)
    if registry_status != 200:
        grade.fail("status", image=declaration.image, status=registry_status)


@check("registry.runs")
def test_runs(
    declaration: Declaration, registry_probe: ProbeResult, lab: LabSpec, grade: Grade
) -> None:
    """A container of the pulled image serves the lab's page."""
    spec = lab.check("http.root_text")
    p: TextParams = spec.params if spec else TextParams()
    matches = text_matches(
        registry_probe.page, p.expected, p.match, p.normalize_whitespace, p.case_sensitive
    )
    if registry_probe.status != 200 or not matches:
        grade.fail(
            image=declaration.image,
            status=registry_probe.status,
            text=p.expected,
            body=excerpt(registry_probe.page),
        )

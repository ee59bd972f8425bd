"""The CI templates (ci/*.yml) run, here, the very grading command they give students' CI."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from junitparser import Error, Failure, JUnitXml

from grader.lab import load_lab

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENGINE_VARIABLES = ("DOCKER_HOST", "DOCKER_TLS_CERTDIR")
"""Variables that configure the job's own engine (here the machine's engine is used)."""


@dataclass(frozen=True)
class Job:
    """What a template's grading job runs."""

    env: dict[str, str]
    """The job's variables (the grader's own install location left out)."""
    grade: str
    """The grading step's shell command."""
    publish: str
    """The step that publishes the Markdown summary."""
    junit: str
    """The glob of the JUnit files the CI system reads."""


def expand(value: str, inputs: dict[str, str]) -> str:
    """An action's ``${{ inputs.x }}`` filled in as the runner does."""
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m[1]], value)


def github() -> Job:
    """The workflow's grading step is the grader's action (action.yml at the repository's
    root): its inputs, given by the workflow or defaulted, reach the action's grading step."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "ci" / "github-actions.yml").read_text("utf-8"))
    job = data["jobs"]["grade"]
    steps = job["steps"]
    (grade,) = [s for s in steps if s.get("id") == "grade"]
    (summary,) = [s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    (junit,) = [s for s in steps if "junit" in s.get("uses", "")]
    (points,) = [s for s in steps if "autograding-grading-reporter" in s.get("uses", "")]
    assert summary["if"] == "always()" and junit["if"] == "always()" and points["if"] == "always()"
    assert points["env"]["GRADE_RESULTS"] == "${{ steps.grade.outputs.result }}"
    assert points["with"]["runners"] == "grade"  # GRADE_RESULTS: the reporter's <RUNNER>_RESULTS
    action: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    assert action["runs"]["using"] == "composite"
    assert action["outputs"]["result"]["value"] == "${{ steps.grade.outputs.result }}"
    given = {k: str(v) for k, v in grade["with"].items()}
    inputs = {k: given.get(k, str(v.get("default", ""))) for k, v in action["inputs"].items()}
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "grade"]
    env = {k: expand(str(v), inputs) for k, v in step["env"].items()}
    env["GRADER"] = grade["uses"]
    return Job(env, step["run"], summary["run"], junit["with"]["report_paths"])


def gitlab() -> Job:
    data: dict[str, Any] = yaml.safe_load((ROOT / "ci" / "gitlab-ci.yml").read_text("utf-8"))
    job = data["grade"]
    assert job["artifacts"]["when"] == "always"
    env = {k: str(v) for k, v in job["variables"].items() if k not in ENGINE_VARIABLES}
    junit = job["artifacts"]["reports"]["junit"]
    return Job(env, "\n".join(job["script"]), "\n".join(job["after_script"]), junit)


TEMPLATES = {"github": github, "gitlab": gitlab}


def run_step(command: str, cwd: Path, job: Job, summary: Path) -> subprocess.CompletedProcess[str]:
    """Run one step's shell command as the CI runner would, with the job's variables."""
    env = {
        **os.environ,
        **job.env,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(summary.with_name("github-output")),
    }
    return subprocess.run(
        ["bash", "-e", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_templates_document_their_placeholders(template: str) -> None:
    job = TEMPLATES[template]()
    assert "<tag>" in job.env["GRADER"]  # the instructor replaces it: documented in the file
    assert "--min-score" in job.grade and "--output reports" in job.grade
    load_lab(job.env["LAB"])  # a lab the grader knows
    name = "github-actions.yml" if template == "github" else "gitlab-ci.yml"
    header = (ROOT / "ci" / name).read_text("utf-8").split("\n\n")[0]
    if template == "github":
        assert "uses: <your-org>/docker-lab-grader@<tag>" in header
    assert "GRADER" in header and "MIN_SCORE" in header  # explained in the header comment


@pytest.mark.parametrize(
    ("template", "submission", "exit_code", "score"),
    [
        ("github", "tp6-ok", 0, "20/20"),
        ("github", "tp6-syntax-error", 1, "6/20"),
        ("gitlab", "tp6-ok", 0, "20/20"),
        ("gitlab", "tp6-syntax-error", 1, "6/20"),
    ],
)
def test_the_templates_grading_command_passes_or_fails_the_job(
    engine: object, tmp_path: Path, template: str, submission: str, exit_code: int, score: str
) -> None:
    job = TEMPLATES[template]()
    repo = tmp_path / submission  # the student's pushed repository, checked out
    shutil.copytree(ROOT / "submissions" / submission, repo)
    summary = tmp_path / "step-summary.md"
    graded = run_step(job.grade, repo, job, summary)
    assert graded.returncode == exit_code, graded.stdout + graded.stderr
    # the steps that run whatever happened: the summary and the JUnit files are there
    published = run_step(job.publish, repo, job, summary)
    assert published.returncode == 0, published.stderr
    table = (repo / "reports" / "summary.md").read_text(encoding="utf-8")
    assert f"| {submission} | tp6 | {score} |" in table
    if template == "github":
        assert summary.read_text(encoding="utf-8") == table
        # the action's output: Classroom's points, check by check, summing to the score
        (line,) = (tmp_path / "github-output").read_text("utf-8").splitlines()
        result = json.loads(base64.b64decode(line.removeprefix("result=")))
        report = json.loads((repo / "reports" / submission / "report.json").read_text("utf-8"))
        assert [t["name"] for t in result["tests"]] == [c["id"] for c in report["checks"]]
        assert sum(t["score"] for t in result["tests"]) == pytest.approx(report["score"])
        assert result["status"] == ("pass" if exit_code == 0 else "fail")
    else:
        assert table in published.stdout
    junit_files = sorted(repo.glob(job.junit))
    assert junit_files == [repo / "reports" / submission / "junit.xml"]
    cases = [case for suite in JUnitXml.fromfile(str(junit_files[0])) for case in suite]
    assert len(cases) == len(load_lab("tp6").checks)
    failed = [c for c in cases if any(isinstance(r, Failure | Error) for r in c.result)]
    assert (len(failed) == 0) == (exit_code == 0)

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

from grader.labs.spec import load_lab

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
        ("github", "tp6-syntax-error", 1, "11/20"),
        ("gitlab", "tp6-ok", 0, "20/20"),
        ("gitlab", "tp6-syntax-error", 1, "11/20"),
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


@dataclass(frozen=True)
class ClassJobs:
    """What a class-grading template runs: each shard's command, then the merge."""

    env: dict[str, str]
    shards: list[dict[str, str]]
    """The variables of each parallel job (its place in the split)."""
    grade: str
    merge: str


def github_class() -> ClassJobs:
    data: dict[str, Any] = yaml.safe_load((ROOT / "ci" / "github-class.yml").read_text("utf-8"))
    env = {k: str(v) for k, v in data["env"].items() if k != "GRADER"}
    grade, merge = data["jobs"]["grade"], data["jobs"]["merge"]
    values = grade["strategy"]["matrix"]["shard"]
    assert values == list(range(1, int(env["SHARDS"]) + 1))  # the matrix lists 1..SHARDS
    (step,) = [s for s in grade["steps"] if s.get("id") == "grade"]
    assert step["env"] == {"SHARD": "${{ matrix.shard }}"}
    (keep,) = [s for s in grade["steps"] if "upload-artifact" in s.get("uses", "")]
    assert keep["if"] == "always()" and keep["with"]["name"] == "shard-${{ matrix.shard }}"
    assert merge["needs"] == "grade" and merge["if"] == "always()"
    (fetch,) = [s for s in merge["steps"] if "download-artifact" in s.get("uses", "")]
    assert fetch["with"] == {"pattern": "shard-*"}  # each artifact in a folder of its name
    (joined,) = [s for s in merge["steps"] if s.get("id") == "merge"]
    shards = [{"SHARD": str(k)} for k in values]
    return ClassJobs(env, shards, step["run"], joined["run"])


def gitlab_class() -> ClassJobs:
    data: dict[str, Any] = yaml.safe_load((ROOT / "ci" / "gitlab-class.yml").read_text("utf-8"))
    env = {
        k: str(v) for k, v in data["variables"].items() if k not in (*ENGINE_VARIABLES, "GRADER")
    }
    grade, merge = data["grade-shard"], data["merge"]
    count = int(grade["parallel"])
    assert grade["artifacts"]["when"] == "always" and grade["artifacts"]["paths"] == ["shard-*/"]
    assert merge["needs"] == ["grade-shard"] and merge["when"] == "always"
    shards = [{"CI_NODE_INDEX": str(k), "CI_NODE_TOTAL": str(count)} for k in range(1, count + 1)]
    return ClassJobs(env, shards, "\n".join(grade["script"]), "\n".join(merge["script"]))


CLASS_TEMPLATES = {"github": github_class, "gitlab": gitlab_class}
CLASS = {"tp6-no-dockerfile": "0/20", "tp6-ok": "20/20", "tp6-syntax-error": "11/20"}


@pytest.mark.parametrize("template", sorted(CLASS_TEMPLATES))
def test_the_class_templates_shards_merge_into_the_class_reports(
    engine: object, tmp_path: Path, template: str
) -> None:
    jobs = CLASS_TEMPLATES[template]()
    assert jobs.env["CLASS"] == "submissions" and "<tag>" in (ROOT / "ci").joinpath(
        f"{template}-class.yml"
    ).read_text("utf-8")
    repo = tmp_path / "grading"  # the instructor's grading repository, checked out
    for name in CLASS:
        shutil.copytree(ROOT / "submissions" / name, repo / "submissions" / name)
    summary = tmp_path / "step-summary.md"
    graded: list[str] = []
    for place in jobs.shards:  # each parallel job, on a runner of its own
        job = Job({**jobs.env, **place}, jobs.grade, "", "")
        done = run_step(jobs.grade, repo, job, summary)
        assert done.returncode == 0, done.stdout + done.stderr
        graded += [line.split()[0] for line in done.stdout.splitlines() if "/20" in line]
    assert sorted(graded) == sorted(CLASS)  # every submission in exactly one shard
    merged = run_step(jobs.merge, repo, Job(jobs.env, jobs.merge, "", ""), summary)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    table = (repo / "reports" / "summary.md").read_text(encoding="utf-8")
    for name, score in CLASS.items():
        assert f"| {name} | tp6 | {score} |" in table
    rows = (repo / "reports" / "summary.csv").read_text("utf-8").splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == sorted(CLASS)
    assert (repo / "reports" / "index.html").exists()

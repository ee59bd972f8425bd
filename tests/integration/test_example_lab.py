"""Labs as data: the worked example (examples/labs/hello-node.toml) grades with no code change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from grader.labs.spec import load_lab

BIN = Path(sys.executable).parent
LAB = Path("examples/labs/hello-node.toml")

EXPECTED = {
    "hello-node-ok": {
        "dockerfile.present": "passed",
        "dockerfile.base_image": "passed",
        "build.succeeds": "passed",
        "image.user_non_root": "passed",
        "image.entrypoint": "passed",
        "image.exposed_port": "passed",
        "run.starts": "passed",
        "http.root_status": "passed",
        "http.root_text": "passed",
        "http.not_found": "passed",
    },
    "hello-node-root": {
        "dockerfile.present": "passed",
        "dockerfile.base_image": "passed",
        "build.succeeds": "passed",
        "image.user_non_root": "failed",
        "image.entrypoint": "passed",
        "image.exposed_port": "passed",
        "run.starts": "passed",
        "http.root_status": "passed",
        "http.root_text": "passed",
        "http.not_found": "passed",
    },
}


def test_the_example_lab_file_is_valid(repo_root: Path) -> None:
    lab = load_lab(str(repo_root / LAB))
    assert (lab.id, lab.port, lab.lang) == ("hello-node", 8080, "en")
    assert [c.id for c in lab.checks] == list(EXPECTED["hello-node-ok"])
    assert sum(c.max_score for c in lab.checks) == 14
    assert lab.check("http.not_found") is not None
    assert lab.check("http.not_found").max_score == 0  # type: ignore[union-attr]
    assert lab.integrity.given_files == ["server.js"]


def test_grade_with_the_example_lab_gives_exact_verdicts(
    engine: object, repo_root: Path, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [str(BIN / "grade"), "examples/submissions", "--lab", str(LAB), "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=repo_root,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = {
        p.parent.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(tmp_path.glob("*/report.json"))
    }
    verdicts = {n: {c["id"]: c["status"] for c in r["checks"]} for n, r in reports.items()}
    assert verdicts == EXPECTED
    assert [(r["lab"], r["score"], r["max_score"]) for r in reports.values()] == [
        ("hello-node", 14.0, 14.0),
        ("hello-node", 12.0, 14.0),
    ]
    root = next(c for c in reports["hello-node-root"]["checks"] if c["id"] == "image.user_non_root")
    assert root["feedback"]["fix"] and "USER" in root["message"]  # the lab's language: English
    # only the Dockerfile is the student's: server.js, given by the lab, is not fingerprinted
    same_server = {tuple(r["facts"]["fingerprint"]["files"]) for r in reports.values()}
    assert same_server == {()}


def test_list_labs_and_explain_show_what_exists(repo_root: Path) -> None:
    listed = subprocess.run(
        [str(BIN / "grade"), "--list-labs"], capture_output=True, text=True, cwd=repo_root
    )
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["tp6", "tp6bis"]
    explained = subprocess.run(
        [str(BIN / "grade"), "--explain", "http.root_text"],
        capture_output=True,
        text=True,
        cwd=repo_root,
    )
    assert explained.returncode == 0
    assert "match (" in explained.stdout and "regex" in explained.stdout

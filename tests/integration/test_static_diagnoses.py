"""Static diagnoses through the real CLI with a lab file of their own: graded without building.

An unpinned base cannot be a bundled submission: offline its build fails (nothing to pull),
online it pulls and builds, so its golden verdicts would depend on the network. These checks
read only the Dockerfile and the build context, so a lab made of them grades without a build.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import BIN

pytestmark = [pytest.mark.docker]

LAB = """\
schema_version = 1
id = "static-only"
title = "Static diagnoses only"
lang = "en"

[checks."dockerfile.present"]
points = 1

[checks."dockerfile.pinned_base"]
points = 2                          # scored here: a lab file may grade any diagnosis

[checks."dockerfile.lint"]
points = 0
mode = "advice"
ignored = ["DL3059"]

[checks."dockerfile.dockerignore"]
points = 0
mode = "advice"
"""

APP = {"app.py": "print('hi')\n", "requirements.txt": "flask==3.0.3\n"}


def _student(root: Path, name: str, dockerfile: str, extra: dict[str, str] | None = None) -> None:
    folder = root / name
    for rel, text in {**APP, "Dockerfile": dockerfile, **(extra or {})}.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")


def _checks(out: Path, name: str) -> dict[str, dict[str, Any]]:
    report = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return {c["id"]: c for c in report["checks"]}


def test_static_lab_grades_pinning_lint_and_context_without_building(
    tmp_path: Path, leftovers: Callable[[], Any]
) -> None:
    klass, out = tmp_path / "class", tmp_path / "out"
    _student(klass, "latest-base", "FROM python:latest\nWORKDIR /app\nCOPY . .\n")
    _student(klass, "no-tag", "FROM python\nWORKDIR /app\nCOPY . .\n")
    _student(
        klass,
        "pinned",
        "ARG PY=3.11\nFROM python:${PY}-slim AS deps\nFROM deps\nWORKDIR /app\nCOPY . .\n",
        {".git/HEAD": "ref: refs/heads/main\n", ".git/objects/pack/p.pack": "x" * 50_000},
    )
    lab = tmp_path / "static.toml"
    lab.write_text(LAB, encoding="utf-8")
    proc = subprocess.run(
        [str(BIN / "grade"), str(klass), "--lab", str(lab), "--output", str(out), "--lang", "en"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    latest, no_tag, pinned = (_checks(out, n) for n in ("latest-base", "no-tag", "pinned"))

    assert {k: c["status"] for k, c in latest.items()} == {
        "dockerfile.present": "passed",
        "dockerfile.pinned_base": "failed",
        "dockerfile.lint": "passed",  # DL3007 is graded by dockerfile.pinned_base, not twice
        "dockerfile.dockerignore": "passed",
    }
    assert latest["dockerfile.pinned_base"]["score"] == 0
    assert latest["dockerfile.pinned_base"]["max_score"] == 2
    assert "latest" in latest["dockerfile.pinned_base"]["feedback"]["summary"]
    assert "DL3007" in latest["dockerfile.lint"]["feedback"]["evidence"]
    assert "dockerfile.pinned_base" in latest["dockerfile.lint"]["feedback"]["evidence"]

    assert no_tag["dockerfile.pinned_base"]["status"] == "failed"
    assert no_tag["dockerfile.pinned_base"]["feedback"]["found"] == "FROM python (line 1)"

    assert {k: c["status"] for k, c in pinned.items()} == {
        "dockerfile.present": "passed",
        "dockerfile.pinned_base": "passed",  # ARG default and a stage alias
        "dockerfile.lint": "passed",
        "dockerfile.dockerignore": "advice",  # .git in the context, no .dockerignore
    }
    ignore = pinned["dockerfile.dockerignore"]["feedback"]
    assert ".git/" in ignore["summary"] and "kB" in ignore["summary"]
    assert ".git/: 50.0 kB" in ignore["evidence"]
    for name in ("latest-base", "no-tag", "pinned"):
        assert (out / name / "build.log").read_text(encoding="utf-8") == "", name  # never built
    assert leftovers() == ([], [])

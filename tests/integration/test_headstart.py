"""The build sent ahead (grader/headstart.py) on the real engine: adopted by the pipeline, the
same image docker-py builds, the same verdicts as a class run, and cancelled and removed when
the pipeline never asks for it."""

from __future__ import annotations

import json
import logging
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader import headstart
from grader.cli import main
from grader.engine import Engine
from grader.headstart import HeadStart
from grader.labels import new_run_labels

pytestmark = [pytest.mark.docker, pytest.mark.slow]
GOLDENS = Path(__file__).parent / "goldens"


def _copy(repo_root: Path, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "in" / name
    shutil.copytree(repo_root / "submissions" / name, folder)
    return folder


def _statuses(out: Path, name: str) -> dict[str, str]:
    report = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return {c["id"]: c["status"] for c in report["checks"]}


@pytest.mark.parametrize(
    "name", ["tp6-ok", "tp6-syntax-error", "tp6-copy-no-slash", "tp6-code-before-deps"]
)
def test_one_submission_is_built_ahead_with_the_verdicts_of_a_class_run(
    name: str,
    repo_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    leftovers: Callable[[], Any],
) -> None:
    folder = _copy(repo_root, tmp_path, name)
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        assert main([str(folder), "--output", str(out), "--lang", "en"]) == 0
    assert f"build of {name} sent ahead" in caplog.text
    assert f"build of {name}: adopted the one sent ahead" in caplog.text
    golden = tomllib.loads((GOLDENS / "tp6.toml").read_text(encoding="utf-8"))[name]
    assert _statuses(out, name) == golden
    assert leftovers() == ([], [])


def test_the_build_sent_ahead_is_the_build_docker_py_makes(
    repo_root: Path, tmp_path: Path, engine: Engine
) -> None:
    folder = _copy(repo_root, tmp_path, "tp6-ok")
    (folder / "app.py").write_text((folder / "app.py").read_text() + f"# {tmp_path.name}\n")
    labels = new_run_labels()
    head = headstart.begin([folder], tmp_path / "out", True, [], labels)
    assert isinstance(head, HeadStart), head
    assert head.take()
    ahead = [item for item in head.stream(300) if "aux" in item]
    image = str(ahead[-1]["aux"]["ID"])  # type: ignore[index]
    try:
        # the same folder through docker-py: every step, the label step too, from the cache
        again = engine.build(folder, "Dockerfile", labels, 300, 64_000)
        assert again.image_id == image
        assert again.log.count("Using cache") == again.log.count("Step ") - 1  # all but FROM
    finally:
        engine.remove_image(image)


def test_a_build_the_pipeline_never_asks_for_is_cancelled_and_removed(
    repo_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    leftovers: Callable[[], Any],
) -> None:
    # the lab's context cap (1000 bytes) refuses the submission: the pipeline never builds it
    folder = _copy(repo_root, tmp_path, "tp6-ok")
    (folder / "notes.txt").write_text("x" * 2000)
    lab = tmp_path / "tp6-tiny.toml"
    text = (repo_root / "grader/labs/tp6.toml").read_text(encoding="utf-8")
    lab.write_text(
        text.replace("http_timeout_s = 5", "http_timeout_s = 5\ncontext_limit_bytes = 1000"),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        assert main([str(folder), "--lab", str(lab), "--output", str(out), "--lang", "en"]) == 0
    assert "build of tp6-ok sent ahead" in caplog.text
    assert "adopted" not in caplog.text
    report = json.loads((out / "tp6-ok" / "report.json").read_text(encoding="utf-8"))
    build = next(c for c in report["checks"] if c["id"] == "build.succeeds")
    assert build["status"] == "failed" and "allowed" in build["message"]
    assert leftovers() == ([], [])


def test_a_class_folder_or_a_dockerignore_is_built_by_the_pipeline_alone(
    repo_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _copy(repo_root, tmp_path, "tp6bis-ok")  # it has a .dockerignore
    with caplog.at_level(logging.INFO):
        assert main([str(folder), "--output", str(tmp_path / "out")]) == 0
    assert "no build sent ahead: a .dockerignore" in caplog.text
    assert _statuses(tmp_path / "out", "tp6bis-ok")["build.succeeds"] == "passed"

"""The BuildKit build sent ahead through the gRPC API (grader/engine/headgrpc.py) on the real
engine: adopted by the pipeline with the verdicts of a class run, the very build the pipeline
makes, and cancelled and removed when the pipeline never asks for it."""

from __future__ import annotations

import json
import logging
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.cli.entry import main
from grader.engine import Engine, headgrpc
from grader.engine.bounds import BuildLimits
from grader.facts.logcap import CappedText
from grader.labels import LABEL_SUBMISSION, new_run_labels
from tests.integration.conftest import tp6_lab_with

pytestmark = [pytest.mark.docker, pytest.mark.slow]
GOLDENS = Path(__file__).parent / "goldens"


def _copy(repo_root: Path, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "in" / name
    shutil.copytree(repo_root / "submissions" / name, folder)
    return folder


def _statuses(out: Path, name: str) -> dict[str, str]:
    report = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return {c["id"]: c["status"] for c in report["checks"]}


@pytest.mark.parametrize(("name", "lab"), [("tp6-ok", "tp6"), ("tp6bis-ok", "tp6bis")])
def test_one_submission_is_built_ahead_through_buildkit_with_its_verdicts(
    name: str,
    lab: str,
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
    assert f"build of {name}: BuildKit through the API, sent ahead" in caplog.text
    golden = tomllib.loads((GOLDENS / f"{lab}.toml").read_text(encoding="utf-8"))[name]
    # the registry checks: the goldens' class pushes to a registry of its own, not this copy
    registry = {k for k in golden if k.startswith("registry.")}
    statuses = _statuses(out, name)
    assert {k: v for k, v in statuses.items() if k not in registry} == {
        k: v for k, v in golden.items() if k not in registry
    }
    report = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    assert report["facts"]["builder"] == "buildkit"
    assert leftovers() == ([], [])


def test_the_build_sent_ahead_is_the_one_the_pipeline_makes(
    repo_root: Path, tmp_path: Path, engine: Engine
) -> None:
    folder = _copy(repo_root, tmp_path, "tp6-ok")
    (folder / "app.py").write_text((folder / "app.py").read_text() + f"# {tmp_path.name}\n")
    labels = new_run_labels()
    head = headgrpc.begin([folder], tmp_path / "out", True, [], labels)
    assert isinstance(head, headgrpc.GrpcHeadStart), head
    assert head.take()
    with head.bounds() as runs:
        assert runs.parent.startswith("/docker-lab-grader/bk-")  # the shared parent
        image, error = head.finish(300, CappedText(64_000), lambda: None, lambda cancel: None)
    assert error is None and image is not None
    try:
        again = engine.build(
            folder, "Dockerfile", {**labels, LABEL_SUBMISSION: "tp6-ok"}, 300, 64_000,
            limits=BuildLimits(), builder="buildkit",
        )  # fmt: skip
        assert again.image_id == image  # every step from the cache: the same context bytes
    finally:
        engine.remove_image(image)


def test_a_buildkit_build_the_pipeline_never_asks_for_is_cancelled_and_removed(
    repo_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    leftovers: Callable[[], Any],
) -> None:
    # the lab's context cap (1000 bytes) refuses the submission: the pipeline never builds it
    folder = _copy(repo_root, tmp_path, "tp6-ok")
    (folder / "notes.txt").write_text("x" * 2000)
    lab = tp6_lab_with(repo_root, tmp_path, "context_limit_bytes = 1000")
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        assert main([str(folder), "--lab", str(lab), "--output", str(out), "--lang", "en"]) == 0
    assert "build of tp6-ok sent ahead" in caplog.text
    assert "BuildKit through the API, sent ahead" not in caplog.text  # never adopted
    assert _statuses(out, "tp6-ok")["build.succeeds"] == "failed"
    assert leftovers() == ([], [])

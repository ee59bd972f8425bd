"""image.waste: the overlay2 folders read in place give exactly the facts of ``docker save``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from grader.engine import Engine
from grader.engine.bounds import BuildLimits
from grader.facts import WasteFacts
from grader.grading import diagnostics
from grader.grading.pipeline import Pipeline
from grader.grading.settings import Options
from grader.intake.submission import load_submission
from grader.labels import LABEL_RUN, new_run_labels
from grader.labs.spec import choose_lab
from grader.stages.waste import image_waste

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WASTEFUL = """\
FROM python:3.11-slim
RUN mkdir -p /data/sub /data/keep && head -c 300000 /dev/urandom > /data/a \\
 && ln /data/a /data/a_link && ln -s /data/a /data/sym && head -c 2000 /dev/urandom > /data/sub/b \\
 && head -c 700 /dev/urandom > /data/keep/k && mkdir -p /root/.cache/pip \\
 && head -c 4000 /dev/urandom > /root/.cache/pip/wheel
RUN rm /data/a_link && head -c 500 /dev/urandom > /data/keep/k && rm -rf /data/sub \\
 && mkdir /data/sub && echo new > /data/sub/c && rm -rf /usr/share/doc/*
RUN rm -rf /data/sub && mkdir /data/sub && rm /data/a
"""
"""Whiteouts (a file, a base image folder's content), an opaque folder made twice, an
overwrite, a hard link and a symlink, a pip cache."""


@pytest.fixture(scope="module")
def labels(engine: Engine) -> Iterator[dict[str, str]]:
    """This module's run labels; its images are removed at the end."""
    run = new_run_labels()
    yield run
    engine.sweep(run[LABEL_RUN])


def _without_method(facts: WasteFacts) -> WasteFacts:
    return WasteFacts(**{**facts.__dict__, "method": ""})


def _fast_method(engine: Engine, image_id: str) -> str:
    """What the fast path must use: overlay2 on an engine that stores images that way (this
    machine's), else docker save (another driver, e.g. the containerd image store)."""
    layout = engine.overlay_layout(engine.inspect_image(image_id))
    return "docker save" if layout is None else "overlay2"


@pytest.mark.parametrize(
    "name",
    [
        "tp6-cleanup-later",
        "tp6bis-single-stage",
        "tp6bis-cosmetic-multistage",
        "tp6-ok",
        "tp6bis-ok",
    ],
)
def test_overlay_folders_and_docker_save_agree(
    repo_root: Path, engine: Engine, labels: dict[str, str], name: str
) -> None:
    root = repo_root / "submissions" / name
    lab = choose_lab(root, "auto")
    assert lab is not None
    pipeline = Pipeline(load_submission(root, name), lab, lambda: engine, labels, Options())
    fast = pipeline.waste
    saved = diagnostics.waste(pipeline, fast=False)
    expected = _fast_method(engine, pipeline.build.image_id or "")
    assert (fast.method, saved.method) == (expected, "docker save")
    assert fast.analysed and fast.added_bytes > 0
    assert _without_method(fast) == _without_method(saved)


@pytest.fixture(scope="module")
def wasteful(
    engine: Engine, labels: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The ``WASTEFUL`` image's id."""
    folder = tmp_path_factory.mktemp("wasteful")
    (folder / "Dockerfile").write_text(WASTEFUL, encoding="utf-8")
    built = engine.build(folder, "Dockerfile", labels, 300, 100_000, limits=BuildLimits())
    assert built.image_id is not None, built.log
    return built.image_id


def _waste(engine: Engine, image_id: str, fast: bool = True) -> WasteFacts:
    written = [line for line in WASTEFUL.splitlines() if line.startswith("RUN")]
    return image_waste(engine, image_id, "python:3.11-slim", written, (10**9, 50), fast=fast)


def test_whiteouts_opaque_folders_and_hard_links_count_the_same(
    engine: Engine, wasteful: str
) -> None:
    fast, saved = _waste(engine, wasteful), _waste(engine, wasteful, fast=False)
    assert (fast.method, saved.method) == (_fast_method(engine, wasteful), "docker save")
    assert _without_method(fast) == _without_method(saved)
    kinds = {(o.kind, o.path) for o in fast.offenders}
    assert ("deleted", "/data/a") in kinds and ("overwritten", "/data/keep/k") in kinds
    assert ("deleted", "/data/sub/b") in kinds and ("pip_cache", "/root/.cache/pip") in kinds
    assert fast.wasted_bytes >= 300_000 + 2000 + 700


def test_layer_folders_that_cannot_be_read_fall_back_to_docker_save(
    engine: Engine, wasteful: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grader without the right to read the engine's folders (or whose folders are not the
    engine's) still gets the facts, from docker save."""
    layout = engine.overlay_layout(engine.inspect_image(wasteful))
    if layout is not None:  # the same layout, its folders out of reach
        gone = tuple(str(tmp_path / f"gone{i}") for i in range(len(layout.diff_dirs)))
        moved = replace(layout, diff_dirs=gone)
        monkeypatch.setattr(engine, "overlay_layout", lambda attrs: moved)
    fast = _waste(engine, wasteful)
    assert fast.method == "docker save"
    assert fast == _waste(engine, wasteful, fast=False)

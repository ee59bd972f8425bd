"""On the real engine: an image whose ENTRYPOINT is missing, or whose USER does not exist, is
refused at start; that is the student's StartRefused with the engine's message, and the
half-created container is found by the caller (issue 16.3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.dockerfile.parse import parse_dockerfile
from grader.engine import Engine
from grader.engine.bounds import BuildLimits
from grader.errors import StartRefused
from grader.intake.submission import load_submission
from grader.labels import new_run_labels
from grader.stages.build import Bounds, build_image
from grader.stages.run import Sandbox, start

pytestmark = [pytest.mark.docker, pytest.mark.slow]

BROKEN = {
    "missing": 'FROM python:3.11-slim\nENTRYPOINT ["gunicorn"]\n',
    "user": 'FROM python:3.11-slim\nUSER app\nENTRYPOINT ["python3", "-c", "pass"]\n',
    "noexec": 'FROM python:3.11-slim\nCOPY run.sh /\nENTRYPOINT ["/run.sh"]\n',
}
WORDS = {
    "missing": 'exec: "gunicorn": executable file not found',
    "user": "unable to find user app",
    "noexec": 'exec: "/run.sh": permission denied',
}


@pytest.fixture
def image_of(engine: Engine, tmp_path: Path) -> Iterator[object]:
    made: list[str] = []

    def build(name: str) -> str:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "Dockerfile").write_text(BROKEN[name], encoding="utf-8")
        (folder / "run.sh").write_text("#!/bin/sh\necho hi\n", encoding="utf-8")
        (folder / "run.sh").chmod(0o644)
        sub = load_submission(folder)
        assert sub.dockerfile is not None
        labels = new_run_labels()
        built = build_image(
            engine,
            sub,
            parse_dockerfile(sub.dockerfile),
            labels,
            300,
            10_000,
            Bounds(BuildLimits()),
        )
        made.append(built.image_id)
        return built.image_id

    yield build
    for image_id in made:
        engine.remove_image(image_id)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_start_the_image_cannot_make_is_refused_with_the_engine_s_message(
    engine: Engine, image_of: object, name: str
) -> None:
    image_id = image_of(name)  # type: ignore[operator]
    with pytest.raises(StartRefused) as refused:
        start(engine, image_id, 8000, new_run_labels(), Sandbox(memory="128m"))
    try:
        assert WORDS[name] in refused.value.message
        assert refused.value.exit_status in (126, 127, 128)
        state = engine.inspect_container(refused.value.container_id)["State"]
        assert not state["Running"]
    finally:
        engine.remove_container(refused.value.container_id)

"""grader/dockerfile/stated.py and on_build_failure: the image's configuration as the
Dockerfile states it."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.dockerfile.parse import parse_text
from grader.dockerfile.stated import stated_image
from grader.errors import LabFileError
from grader.labs.spec import builtin_labs, load_lab, load_lab_file


def stated(text: str):  # type: ignore[no-untyped-def]
    return stated_image(parse_text(text, Path("Dockerfile")))


COPY_NO_SLASH = """FROM python:3.11-slim
LABEL maintainer="Martin Camille"
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py config.py /app
RUN useradd --uid 1000 --no-create-home my-user
USER 1000
ENTRYPOINT ["gunicorn"]
CMD ["--config", "config.py", "app:app"]
"""


def test_the_final_stage_states_label_user_command_and_workdir() -> None:
    facts = stated(COPY_NO_SLASH)
    assert facts.from_dockerfile and facts.image_id == ""
    assert facts.labels == {"maintainer": "Martin Camille"}
    assert (facts.user, facts.uid) == ("1000", 1000)
    assert facts.entrypoint == ("gunicorn",)
    assert facts.cmd == ("--config", "config.py", "app:app")
    assert facts.workdir == "/app" and facts.exposed_ports == frozenset()


def test_a_named_user_gets_the_uid_its_useradd_gives_or_none() -> None:
    base = "FROM python:3.11-slim\nRUN groupadd app && useradd -u 1500 -g app app\nUSER app\n"
    assert stated(base).uid == 1500
    assert stated("FROM node:18-slim\nUSER node\n").uid is None  # made by the base image
    assert stated("FROM python:3.11-slim\nUSER root\n").uid == 0
    assert stated("FROM python:3.11-slim\n").user == ""  # no USER: root


def test_shell_form_is_wrapped_in_the_shell_docker_would_use() -> None:
    facts = stated("FROM python:3.11-slim\nENTRYPOINT gunicorn app:app\n")
    assert facts.entrypoint == ("/bin/sh", "-c", "gunicorn app:app") and facts.cmd is None
    bash = stated('FROM python:3.11-slim\nSHELL ["/bin/bash", "-c"]\nCMD node index.js\n')
    assert bash.cmd == ("/bin/bash", "-c", "node index.js")


def test_labels_expose_and_the_stages_the_final_one_is_built_from() -> None:
    text = (
        "FROM node:18 AS base\nLABEL maintainer=Ada version=1\nWORKDIR /srv\n"
        "EXPOSE 3000/tcp 53/udp\n"
        "FROM node:18 AS build\nLABEL maintainer=Other\n"
        "FROM base\nLABEL description='a b'\nLABEL legacy value here\nWORKDIR app\n"
    )
    facts = stated(text)
    assert facts.labels == {
        "maintainer": "Ada",
        "version": "1",
        "description": "a b",
        "legacy": "value here",
    }  # the build stage's label is not the final image's
    assert facts.exposed_ports == frozenset({3000})
    assert facts.workdir == "/srv/app"


def test_on_build_failure_defaults_to_the_dockerfile_and_is_checked(tmp_path: Path) -> None:
    assert {load_lab(lab).on_build_failure for lab in builtin_labs()} == {"dockerfile"}
    for lab in builtin_labs().values():
        assert 'on_build_failure = "dockerfile"' in lab.read_text(encoding="utf-8")
    text = builtin_labs()["tp6"].read_text(encoding="utf-8")
    path = tmp_path / "lab.toml"
    path.write_text(text.replace('"dockerfile"  #', '"not_run"  #', 1), encoding="utf-8")
    assert load_lab_file(path).on_build_failure == "not_run"
    path.write_text(text.replace('"dockerfile"  #', '"image"  #', 1), encoding="utf-8")
    with pytest.raises(LabFileError, match="on_build_failure"):
        load_lab_file(path)
    kept = [line for line in text.splitlines() if not line.startswith("on_build_failure")]
    path.write_text("\n".join(kept), encoding="utf-8")
    assert load_lab_file(path).on_build_failure == "dockerfile"

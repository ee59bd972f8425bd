"""grader/stages/build.py: which step failed, on which Dockerfile line, and what it printed."""

from __future__ import annotations

from pathlib import Path

from grader.dockerfile.parse import parse_text
from grader.facts import DockerfileFacts
from grader.stages.build import failing_step, stage_image_id

DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .

# install the dependencies
RUN pip install --no-cache-dir \\
    -r requirements.txt
COPY . .
"""

LOG = """\
Step 1/5 : FROM python:3.11-slim
 ---> 2f3c1a9b8e7d
Step 2/5 : WORKDIR /app
 ---> Using cache
 ---> 9a8b7c6d5e4f
Step 3/5 : COPY requirements.txt .
 ---> 1b2c3d4e5f60
Step 4/5 : RUN pip install --no-cache-dir     -r requirements.txt
 ---> Running in 0a1b2c3d4e5f
ERROR: Could not find a version that satisfies the requirement flaks==3.0 (from versions: none)
ERROR: No matching distribution found for flaks==3.0
The command '/bin/sh -c pip install --no-cache-dir     -r requirements.txt' returned a non-zero code: 1
"""  # noqa: E501


def facts() -> DockerfileFacts:
    return parse_text(DOCKERFILE, Path("Dockerfile"))


def test_failing_step_names_the_step_and_its_dockerfile_line() -> None:
    step, line = failing_step(LOG, facts())
    assert step == "RUN pip install --no-cache-dir     -r requirements.txt"
    assert line == 6


def test_failing_step_without_facts_has_no_line() -> None:
    step, line = failing_step(LOG, None)
    assert step == "RUN pip install --no-cache-dir     -r requirements.txt"
    assert line is None


def test_failing_step_of_an_earlier_step() -> None:
    log = LOG.split("Step 4/5")[0] + "COPY failed: file not found in build context\n"
    assert failing_step(log, facts()) == ("COPY requirements.txt .", 3)


def test_parse_error_maps_its_line() -> None:
    dockerfile = "\n".join(["FROM python:3.11"] + ["# c"] * 12 + ["COPPY app.py ."]) + "\n"
    parsed = parse_text(dockerfile, Path("Dockerfile"))
    assert parsed.instructions[-1].line == 14
    message = "dockerfile parse error line 14: unknown instruction: COPPY"
    assert failing_step(message, parsed) == ("COPPY app.py .", 14)
    assert failing_step(message, None) == (None, 14)


def test_no_step_and_no_line_gives_nothing() -> None:
    assert failing_step("Cannot connect to the Docker daemon", facts()) == (None, None)


# -- the build stage's image, read from the main build's log (image.size) ---------------------

MULTI_LOG = """Step 1/9 : ARG NODE=18
Step 2/9 : FROM node:${NODE} AS build
 ---> 1c3f43ae0d98
Step 3/9 : WORKDIR /app
 ---> Using cache
 ---> 8441049f2bd3
Step 4/9 : RUN npm test
 ---> Running in 931eb98b8754
> app@1.0.0 test
 ---> 0123456789ab
Removing intermediate container 931eb98b8754
 ---> d290e44513c9
Step 5/9 : from node:18-slim
 ---> b64c9df3583e
Step 6/9 : COPY --from=build /app/app.js ./
 ---> f72cf677642a
Step 7/9 : FROM scratch
Step 8/9 : LABEL org.docker-lab-grader=abc
 ---> Running in 2550d16aa2ea
 ---> ecab2bb2a867
Successfully built ecab2bb2a867
"""


def test_stage_image_id_is_the_last_id_before_the_next_from() -> None:
    assert stage_image_id(MULTI_LOG) == "d290e44513c9"
    assert stage_image_id(MULTI_LOG, 1) == "f72cf677642a"


def test_stage_image_id_of_a_stage_with_only_its_from() -> None:
    log = "Step 1/3 : FROM node:18 AS build\n ---> 1c3f43ae0d98\nStep 2/3 : FROM node:18-slim\n"
    assert stage_image_id(log) == "1c3f43ae0d98"


def test_stage_image_id_unknown_for_one_stage_or_a_cut_log() -> None:
    one = "Step 1/2 : FROM python:3.11\n ---> aaaaaaaaaaaa\nStep 2/2 : CMD x\n ---> bbbbbbbbbbbb\n"
    assert stage_image_id(one) is None
    # the middle of a long log was cut: the id of step 3 does not close the stage (step 4)
    cut = MULTI_LOG.replace("Step 4/9 : RUN npm test", "[... 9000 characters cut ...]")
    cut = cut.replace(" ---> d290e44513c9\n", "")
    assert stage_image_id(cut) is None
    assert stage_image_id("") is None

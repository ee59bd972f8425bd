"""grader/build.py: which step failed, on which Dockerfile line, and what it printed."""

from __future__ import annotations

from pathlib import Path

from grader.build import failing_step
from grader.dockerfile import parse_text
from grader.facts import DockerfileFacts

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

"""What ``grade`` loads before it can send its first build (issue 6: start-up is on every
submission's critical path): the command line sends the build of a single submission with the
standard library alone (``grader.engine.headstart``); the heavy libraries the checks, reports and
live display need are loaded later, while the first build runs (``jobs.warm_up``), or never
(paramiko)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader.engine import Engine
from grader.errors import EngineUnavailable

LATER = (
    "pytest",
    "jinja2",
    "rich",
    "testinfra",
    "paramiko",
    "grader.grading.single",
    "grader.grading.session",
)
AFTER_THE_HEAD_START = ("docker", "requests", "urllib3", "typing", "dataclasses", "logging")
AFTER_THE_HEAD_START += (
    "grader.engine.client",
    "grader.cli.command",
    "grader.classrun.batch",
    "grader.facts",
)


def loaded_after(statement: str, modules: tuple[str, ...] = LATER) -> list[str]:
    """Which of ``modules`` a fresh interpreter holds after running ``statement``."""
    show = f"print(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    code = f"import json, sys\n{statement}\n{show}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_the_command_line_loads_the_standard_library_alone_before_its_head_start() -> None:
    assert loaded_after("import grader.cli.entry", AFTER_THE_HEAD_START) == []
    # and what it loads after it is everything a class run needs, still none of LATER
    assert "grader.classrun.batch" in loaded_after(
        "import grader.cli.command", AFTER_THE_HEAD_START
    )


def test_the_command_line_and_a_class_run_load_none_of_them() -> None:
    assert (
        loaded_after(
            "import grader.cli.entry, grader.classrun.batch, grader.engine, grader.grading.pipeline"
        )
        == []
    )


def test_the_warm_up_loads_what_the_checks_and_reports_need() -> None:
    loaded = loaded_after("import grader.classrun.jobs; grader.classrun.jobs.warm_up()")
    assert set(loaded) == {
        "pytest",
        "jinja2",
        "testinfra",
        "grader.grading.single",
        "grader.grading.session",
    }


def test_an_ssh_engine_still_gets_docker_pys_ssh_adapter() -> None:
    # paramiko is kept out of docker-py's import; asking for ssh:// brings the adapter back:
    # the failure is "no engine answers", not docker-py's "install paramiko"
    with pytest.raises(EngineUnavailable) as raised:
        Engine("ssh://nobody@127.0.0.1:9", timeout_s=5)
    assert "paramiko" not in str(raised.value)

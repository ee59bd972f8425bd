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


ENDING = """
import atexit, os, sys
from grader.cli import entry

class Torn:
    def __del__(self, write=os.write) -> None:  # os itself may be torn down by then
        write(2, b"torn down\\n")

def late() -> None:
    sys.stdout.write("a handler registered during the run ran\\n")
    sys.late = Torn()  # made after the run's objects were frozen: the teardown deletes it

def main(argv=None, console=False):
    atexit.register(late)
    sys.stdout.write("x" * 100000)  # buffered: a pipe
    {end}

entry.main = main
entry.main_entry()
"""


def _ending(end: str) -> subprocess.CompletedProcess[str]:
    code = ENDING.format(end=end)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_a_run_that_returned_ends_without_the_interpreter_tearing_its_modules_down() -> None:
    """8 ms of every ``grade`` run: the exit code, the output and the exit handlers kept."""
    done = _ending("return 3")
    assert done.returncode == 3
    assert done.stdout == "x" * 100000 + "a handler registered during the run ran\n"
    assert "torn down" not in done.stderr


def test_a_run_that_raised_ends_as_the_interpreter_ends_it() -> None:
    done = _ending("raise RuntimeError('a bug')")
    assert done.returncode == 1
    assert "RuntimeError: a bug" in done.stderr
    assert done.stdout.endswith("a handler registered during the run ran\n")
    assert "torn down" in done.stderr


def test_the_build_sent_ahead_loads_the_log_cap_alone_of_the_facts() -> None:
    """The facts' dataclasses (10 ms) load after the head start's build is sent."""
    ahead = "import grader.engine.headgrpc, grader.engine.buildgrpc, grader.engine.runbounds"
    facts = tuple(f"grader.facts.{m}" for m in ("container", "dockerfile", "image", "submission"))
    assert loaded_after(ahead, (*facts, "secrets", "grader.facts.logcap")) == [
        "grader.facts.logcap"
    ]


def test_every_name_the_facts_package_offers_is_its_module_s() -> None:
    import importlib

    import grader.facts

    for name in grader.facts.__all__:
        value = getattr(grader.facts, name)
        assert getattr(importlib.import_module(value.__module__), name) is value, name
    with pytest.raises(ImportError):
        exec("from grader.facts import NotAFact")


def test_a_handler_registered_before_the_run_still_runs() -> None:
    """A sitecustomize's or coverage's exit handler, registered before ``main_entry``, runs
    after the last one ``main_entry`` registers: the process then ends as usual."""
    code = "import atexit, sys\natexit.register(sys.stdout.write, 'registered before\\n')\n"
    code += ENDING.format(end="return 0")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.endswith("a handler registered during the run ran\nregistered before\n")

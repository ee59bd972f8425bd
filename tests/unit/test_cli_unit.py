"""grader/cli/entry.py: the class-run flags parse as documented; a bad -j is a usage error."""

from __future__ import annotations

import pytest

from grader.cli.entry import main, parser


def test_class_run_flags() -> None:
    args = parser().parse_args(
        ["class/", "-j", "3", "--force", "--regrade", "--docker-host", "unix:///a.sock",
         "--docker-host", "ssh://grader@b"]
    )  # fmt: skip
    assert (args.jobs, args.force, args.regrade) == (3, True, True)
    assert args.docker_host == ["unix:///a.sock", "ssh://grader@b"]
    defaults = parser().parse_args(["class/"])
    assert (defaults.jobs, defaults.force, defaults.regrade, defaults.docker_host) == (
        None, False, False, []
    )  # fmt: skip


def test_zero_jobs_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["class/", "-j", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err

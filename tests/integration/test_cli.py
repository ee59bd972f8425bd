"""The command line: one-line errors and documented exit codes, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from grader.cli.entry import main


def test_unknown_lab_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["submissions/tp6-ok", "--lab", "tp99", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown lab 'tp99'") and err.count("\n") == 1


def test_missing_path_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main([str(tmp_path / "nope"), "--output", str(tmp_path)]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_invalid_lab_file_names_the_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lab = tmp_path / "bad.toml"
    lab.write_text('schema_version = 1\nid = "x"\ntitle = "x"\n[checks."run.starts"]\npionts = 1\n')
    assert main(["submissions/tp6-ok", "--lab", str(lab), "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert 'checks."run.starts"' in err and "pionts" in err


def test_no_engine_is_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(
        [
            "submissions/tp6-ok",
            "--docker-host",
            f"unix://{tmp_path}/no-engine.sock",
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert err == "error: no Docker engine: start Docker or run make grade as root\n"


def test_list_labs_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-labs"]) == 0
    assert capsys.readouterr().out.startswith("tp6 ")
    assert main(["--explain", "http.root_text"]) == 0
    out = capsys.readouterr().out
    assert "http.root_text" in out and "normalize_whitespace" in out and "used by: tp6" in out
    assert main(["--explain", "no.such"]) == 2


def test_verbose_logs_every_stage_also_while_the_rubric_runs(
    repo_root: Path, tmp_path: Path
) -> None:
    # a build that lasts: the rubric (pytest, in the same process) starts while it runs
    folder = tmp_path / "slow-build"
    shutil.copytree(repo_root / "submissions" / "tp6-ok", folder)
    dockerfile = (folder / "Dockerfile").read_text(encoding="utf-8")
    nonce = f"RUN sleep 2 # {uuid.uuid4().hex}\n"
    (folder / "Dockerfile").write_text(dockerfile.replace("USER 1000\n", nonce + "USER 1000\n"))
    grade = Path(sys.executable).parent / "grade"
    argv = [str(grade), str(folder), "--output", str(tmp_path / "out"), "-v"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for line in ("built slow-build in", "slow-build: start took", "slow-build: stop took"):
        assert line in done.stderr, done.stderr[-3000:]

"""grader/stages/runtime.py: the one-session presence script, run by a real shell."""

from __future__ import annotations

import subprocess
from pathlib import Path

from grader.stages.runtime import presence_script


def test_presence_script_lists_the_regular_files_only(tmp_path: Path) -> None:
    odd = tmp_path / "it's here; rm -rf x"
    odd.mkdir()
    (odd / "package.json").write_text("{}")
    (tmp_path / "dir.json").mkdir()
    paths = [str(odd / "package.json"), str(tmp_path / "absent.json"), str(tmp_path / "dir.json")]
    out = subprocess.run(["sh", "-c", presence_script(paths)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.splitlines() == [paths[0]]


def test_presence_script_with_nothing_to_look_for_only_needs_a_shell() -> None:
    out = subprocess.run(["sh", "-c", presence_script([])], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == ""

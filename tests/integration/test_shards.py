"""Two shards of a class, graded apart and merged, give the very outputs of a single run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]
BIN = Path(sys.executable).parent
CLASS = ["tp6-no-dockerfile", "tp6-ok", "tp6-syntax-error"]
CLASS_FILES = ["summary.csv", "gradebook.csv", "summary.md", "index.html"]


def grade(*args: str | Path) -> str:
    proc = subprocess.run([str(BIN / "grade"), *map(str, args)], capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def report(out: Path, name: str) -> dict[str, Any]:
    """What must not differ between two gradings of the same files (timings, logs, layer
    sizes and the messages quoting them may)."""
    data: dict[str, Any] = json.loads((out / name / "report.json").read_text("utf-8"))
    return {
        "checks": {c["id"]: (c["status"], c["score"]) for c in data["checks"]},
        "facts": sorted(data["facts"]),
        **{k: data[k] for k in ("submission", "lab", "score", "max_score", "origin", "lang")},
    }


def test_two_shards_merged_equal_a_single_run(repo_root: Path, tmp_path: Path) -> None:
    klass = tmp_path / "class"
    for name in CLASS:
        shutil.copytree(repo_root / "submissions" / name, klass / name)
    grade(klass, "--lab", "tp6", "-o", tmp_path / "single", "-j", "2")
    shards = [tmp_path / "shard-1", tmp_path / "shard-2"]
    for k, out in enumerate(shards, start=1):
        grade(klass, "--lab", "tp6", "--shard", f"{k}/2", "-o", out)
    graded = [sorted(p.parent.name for p in out.glob("*/report.json")) for out in shards]
    assert graded == [["tp6-no-dockerfile", "tp6-syntax-error"], ["tp6-ok"]]  # round robin
    merged = tmp_path / "merged"
    assert "3 reports joined" in grade("merge", *shards, "-o", merged)
    for name in CLASS_FILES:
        single = (tmp_path / "single" / name).read_bytes()
        assert (merged / name).read_bytes() == single, name
    assert sorted(p.name for p in merged.iterdir()) == sorted(
        p.name for p in (tmp_path / "single").iterdir()
    )
    for name in CLASS:
        assert report(merged, name) == report(tmp_path / "single", name), name
    # with the merged reports as the last known durations, the split puts the long one alone
    again = tmp_path / "again"
    shutil.copytree(merged, again)
    grade(klass, "--lab", "tp6", "--shard", "2/2", "-o", again)
    assert json.loads((again / "shard.json").read_text("utf-8"))["class"] == CLASS

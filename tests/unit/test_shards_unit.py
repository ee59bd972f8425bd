"""Shards: a deterministic, balanced split; merge refuses incomplete sets; task payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.classrun.merge import merge
from grader.classrun.payload import pack, unpack
from grader.classrun.shards import Shard, select, split, write_shard_file
from grader.errors import SubmissionRejected, UsageError

NAMES = [f"student-{i:02d}" for i in range(10)]


def test_without_durations_the_sorted_names_are_dealt_round_robin() -> None:
    assert split(list(reversed(NAMES)), 3, {}) == [
        ["student-00", "student-03", "student-06", "student-09"],
        ["student-01", "student-04", "student-07"],
        ["student-02", "student-05", "student-08"],
    ]


def test_every_name_is_in_exactly_one_shard_whatever_the_input_order() -> None:
    durations = {n: float(i % 4 + 1) for i, n in enumerate(NAMES)}
    parts = [select(NAMES, Shard(k, 4), durations) for k in range(1, 5)]
    assert sorted(n for p in parts for n in p) == NAMES
    shuffled = NAMES[5:] + NAMES[:5]
    assert [select(shuffled, Shard(k, 4), durations) for k in range(1, 5)] == parts


def test_known_durations_balance_the_shards() -> None:
    durations = {"long": 60.0, "a": 20.0, "b": 20.0, "c": 20.0}
    assert split(["a", "b", "c", "long"], 2, durations) == [["long"], ["a", "b", "c"]]
    # an unknown duration weighs the median of the known ones
    assert split(["a", "long", "new"], 2, {"a": 10.0, "long": 50.0}) == [["long"], ["new", "a"]]


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", ""])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        Shard.parse(text)


def test_merge_refuses_a_missing_or_foreign_shard(tmp_path: Path) -> None:
    one, two, other = tmp_path / "one", tmp_path / "two", tmp_path / "other"
    write_shard_file(one, Shard(1, 2), ["a", "b"])
    write_shard_file(two, Shard(2, 2), ["a", "b"])
    write_shard_file(other, Shard(2, 2), ["a", "c"])
    with pytest.raises(UsageError, match="missing: 2/2"):
        merge([one], tmp_path / "out")
    with pytest.raises(UsageError, match="different runs"):
        merge([one, other], tmp_path / "out")
    with pytest.raises(UsageError, match="no readable shard.json"):
        merge([one, tmp_path], tmp_path / "out")
    assert merge([one, two], tmp_path / "out") == []  # no report yet: nothing to join
    assert json.loads((one / "shard.json").read_text())["class"] == ["a", "b"]


def test_a_payload_keeps_files_and_modes_and_respects_the_cap(tmp_path: Path) -> None:
    folder = tmp_path / "sub"
    (folder / "app").mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\n")
    script = folder / "app" / "entrypoint.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (folder / "link").symlink_to("Dockerfile")
    out = tmp_path / "out"
    unpack(pack(folder, 1000), out)
    assert (out / "Dockerfile").read_text() == "FROM python:3.11-slim\n"
    assert (out / "app" / "entrypoint.sh").stat().st_mode & 0o111
    assert (out / "link").is_symlink()
    with pytest.raises(SubmissionRejected, match="more than the lab's limit of 10 bytes"):
        pack(folder, 10)


def test_files_over_the_cap_are_sent_as_their_build_context(tmp_path: Path) -> None:
    from grader.classrun.remote import files_to_send
    from grader.intake.submission import load_submission

    folder = tmp_path / "sub"
    (folder / "data").mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY app.py /app/\n")
    (folder / "app.py").write_text("print('hi')\n")
    (folder / ".dockerignore").write_text("data\n")
    (folder / "data" / "big.csv").write_text("x" * 5000)
    sub = load_submission(folder, "sub")
    assert files_to_send(sub, 10_000) is None  # it all fits: every file goes
    only = files_to_send(sub, 1000)
    assert only == [".dockerignore", "Dockerfile", "app.py"]
    out = tmp_path / "out"
    unpack(pack(folder, 1000, only), out)
    assert sorted(p.name for p in out.rglob("*")) == [".dockerignore", "Dockerfile", "app.py"]

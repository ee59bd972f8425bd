"""grader/stages/rootfs.py: a file's presence under a root descriptor, never following a link;
the owner's check on a real ``/proc`` folder (this process's)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.stages.rootfs import files_present, is_file


@pytest.fixture
def root(tmp_path: Path) -> Iterator[int]:
    """A container-like tree: /app/node_modules/{plain,linked,escape,flat}, an /opt target."""
    modules = tmp_path / "tree" / "app" / "node_modules"
    (modules / "plain").mkdir(parents=True)
    (modules / "plain" / "package.json").write_text("{}")
    (modules / "folder" / "package.json").mkdir(parents=True)  # a folder named like the file
    (tmp_path / "tree" / "opt" / "linked").mkdir(parents=True)
    (tmp_path / "tree" / "opt" / "linked" / "package.json").write_text("{}")
    (modules / "linked").symlink_to("/opt/linked")  # the container's /opt, not the host's
    (modules / "relative").symlink_to("plain")
    (modules / "final").mkdir()
    (modules / "final" / "package.json").symlink_to("../plain/package.json")
    (modules / "flat").write_text("a file where a folder is expected")
    fd = os.open(tmp_path / "tree", os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


def test_a_regular_file_is_there(root: int) -> None:
    assert is_file(root, "/app/node_modules/plain/package.json") is True


def test_missing_paths_and_a_file_in_the_way_are_absent(root: int) -> None:
    assert is_file(root, "/app/node_modules/absent/package.json") is False
    assert is_file(root, "/nowhere/node_modules/plain/package.json") is False
    assert is_file(root, "/app/node_modules/flat/package.json") is False  # ENOTDIR
    assert is_file(root, "/app/node_modules/folder/package.json") is False  # not a file


def test_a_link_anywhere_on_the_path_is_left_undecided(root: int) -> None:
    assert is_file(root, "/app/node_modules/linked/package.json") is None
    assert is_file(root, "/app/node_modules/relative/package.json") is None
    assert is_file(root, "/app/node_modules/final/package.json") is None


def test_dot_dot_and_the_root_itself_are_left_undecided(root: int) -> None:
    assert is_file(root, "/app/../app/node_modules/plain/package.json") is None
    assert is_file(root, "/") is None
    assert is_file(root, "app/./node_modules/plain/package.json") is True  # "." is harmless


def test_no_descriptor_is_left_open(root: int) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        is_file(root, "/app/node_modules/plain/package.json")
        is_file(root, "/app/node_modules/linked/package.json")
        is_file(root, "/app/node_modules/flat/package.json")
    assert len(os.listdir("/proc/self/fd")) == before


def _owner() -> str:
    """A line of this process's cgroup file: what a container's id is to its PID 1's."""
    return Path("/proc/self/cgroup").read_text().splitlines()[0]


def test_the_process_must_still_be_the_owners(tmp_path: Path) -> None:
    here = tmp_path.resolve() / "package.json"  # resolved: no link on the way
    here.write_text("{}")
    proc = Path("/proc/self")
    assert files_present(proc, _owner(), [str(here), f"{here}.absent"]) == [True, False]
    assert files_present(proc, "another-container-id", [str(here)]) is None
    assert files_present(Path("/proc/0"), _owner(), [str(here)]) is None  # no such process


def test_one_undecided_path_leaves_them_all_to_the_caller(tmp_path: Path) -> None:
    folder = tmp_path.resolve()
    (folder / "package.json").write_text("{}")
    (folder / "link").symlink_to(folder)
    paths = [str(folder / "package.json"), str(folder / "link" / "package.json")]
    assert files_present(Path("/proc/self"), _owner(), paths) is None

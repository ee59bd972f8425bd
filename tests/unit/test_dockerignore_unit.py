"""grader/engine/dockerignore.py gives the files docker-py sends, pattern by pattern: each
pattern set
below is run through docker-py's own ``exclude_paths`` and through the port, on a tree made
to tell apart folders, exceptions, ``**``, ``..``, character classes and letter case."""

from __future__ import annotations

from pathlib import Path

import docker.utils.build
import pytest

from grader.engine import dockerignore, headstart

PATTERNS = [
    [],
    ["node_modules"],
    ["node_modules/"],
    ["/node_modules", "npm-debug.log"],
    ["*.log"],
    ["**/*.log"],
    ["src/**/*.pyc"],
    ["**"],
    ["*", "!app.py", "!Dockerfile"],
    ["data", "!data/keep.txt"],
    ["data/*", "!data/sub"],
    ["./data/../src/lib"],
    ["../../data"],
    ["[a-c]*.py"],
    ["[!a]*"],
    ["?ata"],
    ["README.MD"],  # docker-py matches without regard to case
    ["src/lib/"],
    ["src", "!src/lib/deep/x.pyc"],
    [".git", ".dockerignore"],
    ["Dockerfile"],  # the Dockerfile is always sent
    ["*.txt", "!**/keep.txt"],
    ["[", "a[", "\\"],
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    files = [
        "Dockerfile", "app.py", "build.py", "cli.py", "README.md", "npm-debug.log", "notes.txt",
        "node_modules/a/index.js", "node_modules/.bin/x", "data/keep.txt", "data/big.bin",
        "data/sub/more.txt", "src/lib/mod.py", "src/lib/deep/x.pyc", "src/lib/deep/y.log",
        "src/main.pyc", ".git/HEAD", ".dockerignore", "logs/a.log", "logs/keep.txt",
    ]  # fmt: skip
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (root / "empty").mkdir()
    (root / "link-to-src").symlink_to("src")
    return root


@pytest.mark.parametrize("patterns", PATTERNS, ids=lambda p: " ".join(p) or "none")
def test_the_port_finds_what_docker_py_finds(tree: Path, patterns: list[str]) -> None:
    theirs = docker.utils.build.exclude_paths(str(tree), list(patterns), dockerfile="Dockerfile")
    assert set(dockerignore.included(tree, patterns)) == theirs


@pytest.mark.parametrize("patterns", PATTERNS[1:6], ids=lambda p: " ".join(p))
def test_the_context_sent_ahead_is_docker_pys_tar(tree: Path, patterns: list[str]) -> None:
    paths = headstart.context_paths(tree, patterns)
    assert paths is not None
    theirs = docker.utils.build.tar(
        str(tree), exclude=list(patterns), dockerfile=("Dockerfile", None)
    )
    with theirs:
        assert headstart.archive(tree, paths) == theirs.read()


def test_patterns_are_read_as_docker_py_reads_them(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text(
        "# comment\n\n  node_modules  \n*.log\n #x\n!keep.log\n"
    )
    # stripped first, then comments dropped (" #x" is one), as APIClient.build does
    assert dockerignore.read_patterns(tmp_path) == ["node_modules", "*.log", "!keep.log"]
    assert dockerignore.read_patterns(tmp_path / "none") is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / ".dockerignore").write_bytes(b"\xff\xfe")
    assert dockerignore.read_patterns(tmp_path / "bad") is None  # not UTF-8: not sent ahead

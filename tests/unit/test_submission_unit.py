"""grader/intake/submission.py: finding the Dockerfile, expanding PATHs, hashing a submission."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.intake.submission import files_hash, find_dockerfile, load_submission, resolve


def touch(path: Path, text: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_dockerfile_is_preferred_then_fallbacks_in_order(tmp_path: Path) -> None:
    for name in ("Dockerfile", "dockerfile", "Dockerfile.multi", "Dockerfile.dev"):
        touch(tmp_path / name)
    assert find_dockerfile(tmp_path) == (tmp_path / "Dockerfile", True)
    (tmp_path / "Dockerfile").unlink()
    assert find_dockerfile(tmp_path) == (tmp_path / "dockerfile", False)
    (tmp_path / "dockerfile").unlink()
    assert find_dockerfile(tmp_path) == (tmp_path / "Dockerfile.multi", False)
    (tmp_path / "Dockerfile.multi").unlink()
    assert find_dockerfile(tmp_path) == (tmp_path / "Dockerfile.dev", False)
    (tmp_path / "Dockerfile.dev").unlink()
    assert find_dockerfile(tmp_path) == (None, False)


def test_any_dockerfile_dot_name_is_taken_in_sorted_order(tmp_path: Path) -> None:
    touch(tmp_path / "Dockerfile.prod")
    touch(tmp_path / "Dockerfile.dev")
    assert find_dockerfile(tmp_path) == (tmp_path / "Dockerfile.dev", False)


def test_dot_dockerfile_suffix_is_taken(tmp_path: Path) -> None:
    touch(tmp_path / "app.dockerfile")
    assert find_dockerfile(tmp_path) == (tmp_path / "app.dockerfile", False)


def test_a_folder_named_dockerfile_is_not_the_file(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").mkdir()
    (tmp_path / "Dockerfile.d").mkdir()
    assert find_dockerfile(tmp_path) == (None, False)
    touch(tmp_path / "dockerfile")
    assert find_dockerfile(tmp_path) == (tmp_path / "dockerfile", False)


def test_resolve_a_class_folder(tmp_path: Path) -> None:
    touch(tmp_path / "alice" / "Dockerfile")
    touch(tmp_path / "bob" / "app.py")  # no Dockerfile: still a submission
    touch(tmp_path / "carol" / "dockerfile")
    touch(tmp_path / ".git" / "HEAD")
    touch(tmp_path / ".hidden" / "Dockerfile")
    touch(tmp_path / "__pycache__" / "x.pyc")
    touch(tmp_path / "README.md")
    assert resolve([tmp_path]) == [tmp_path / "alice", tmp_path / "bob", tmp_path / "carol"]


def test_resolve_a_submission_folder_is_itself(tmp_path: Path) -> None:
    sub = tmp_path / "alice"
    touch(sub / "Dockerfile")
    touch(sub / "app.py")
    touch(sub / "templates" / "index.html")
    assert resolve([sub]) == [sub]


def test_resolve_a_folder_without_subfolders_is_one_submission(tmp_path: Path) -> None:
    touch(tmp_path / "app.py")
    assert resolve([tmp_path]) == [tmp_path]


def test_resolve_several_paths_in_order(tmp_path: Path) -> None:
    touch(tmp_path / "b" / "Dockerfile")
    touch(tmp_path / "a" / "Dockerfile")
    assert resolve([tmp_path / "b", tmp_path / "a"]) == [tmp_path / "b", tmp_path / "a"]


def test_resolve_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        resolve([tmp_path / "absent"])


def test_resolve_a_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a folder"):
        resolve([touch(tmp_path / "Dockerfile")])


def test_resolve_never_drops_a_submission_whose_only_subfolder_is_hidden(tmp_path: Path) -> None:
    """A student's folder without Dockerfile but with an editor folder (.vscode) must still be
    graded (as a submission with no Dockerfile), not silently vanish from the class run."""
    sub = tmp_path / "alice"
    touch(sub / "app.py")
    touch(sub / ".vscode" / "settings.json", "{}\n")
    assert resolve([sub]) == [sub]


def test_files_hash_is_stable_and_follows_content(tmp_path: Path) -> None:
    touch(tmp_path / "Dockerfile", "FROM python\n")
    touch(tmp_path / "src" / "app.py", "print(1)\n")
    first = files_hash(tmp_path)
    assert files_hash(tmp_path) == first
    assert len(first) == 64
    touch(tmp_path / "src" / "app.py", "print(2)\n")
    changed = files_hash(tmp_path)
    assert changed != first
    touch(tmp_path / "src" / "app.py", "print(1)\n")
    assert files_hash(tmp_path) == first


def test_files_hash_follows_names_too(tmp_path: Path) -> None:
    touch(tmp_path / "a.py", "same\n")
    first = files_hash(tmp_path)
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    assert files_hash(tmp_path) != first


def test_files_hash_ignores_git_and_caches(tmp_path: Path) -> None:
    touch(tmp_path / "Dockerfile", "FROM python\n")
    first = files_hash(tmp_path)
    touch(tmp_path / ".git" / "HEAD", "ref: refs/heads/main\n")
    touch(tmp_path / "__pycache__" / "app.cpython-311.pyc", "bytes")
    assert files_hash(tmp_path) == first


def test_load_submission(tmp_path: Path) -> None:
    touch(tmp_path / "alice" / "dockerfile", "FROM python\n")
    sub = load_submission(tmp_path / "alice")
    assert sub.name == "alice"
    assert sub.root == (tmp_path / "alice").resolve()
    assert sub.dockerfile == sub.root / "dockerfile"
    assert sub.dockerfile_is_default_name is False
    assert sub.files_hash == files_hash(tmp_path / "alice")

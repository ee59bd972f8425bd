"""Zip intake: nothing lands outside the target folder, no link is created, sizes are capped."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from grader.errors import SubmissionRejected
from grader.intake.submission import inside, load_submission, read_declaration, safe_file
from grader.intake.zips import extract_zip


def make_zip(path: Path, entries: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def test_a_zipped_folder_extracts_to_that_folder(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "alice.zip", {"tp6/Dockerfile": b"FROM python:3.11-slim\n", "tp6/app.py": b""}
    )
    dest = tmp_path / "out"
    dest.mkdir()
    root = extract_zip(archive, dest, 10_000)
    assert root == dest / "tp6"
    assert (root / "Dockerfile").read_bytes() == b"FROM python:3.11-slim\n"


def test_flat_zip_extracts_to_the_destination(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"Dockerfile": b"FROM x\n", "app.py": b""})
    dest = tmp_path / "out"
    dest.mkdir()
    assert extract_zip(archive, dest, 10_000) == dest


@pytest.mark.parametrize("name", ["../canary.txt", "a/../../canary.txt", "/tmp/canary.txt"])
def test_zip_slip_is_refused_and_nothing_lands_outside(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "evil.zip", {"Dockerfile": b"FROM x\n", name: b"pwned"})
    dest = tmp_path / "box" / "out"
    dest.mkdir(parents=True)
    with pytest.raises(SubmissionRejected, match="outside the submission"):
        extract_zip(archive, dest, 10_000)
    assert not (tmp_path / "canary.txt").exists()
    assert not (tmp_path / "box" / "canary.txt").exists()
    assert list(dest.iterdir()) == []  # checked before anything is written


def test_backslash_and_drive_paths_are_refused(tmp_path: Path) -> None:
    for name in ("..\\canary.txt", "C:/canary.txt"):
        archive = make_zip(tmp_path / "evil.zip", {name: b"x"})
        dest = tmp_path / "out"
        dest.mkdir(exist_ok=True)
        with pytest.raises(SubmissionRejected):
            extract_zip(archive, dest, 10_000)


def test_a_symbolic_link_entry_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "canary-secret.txt"
    canary.write_text("TOKEN-7f3a")
    archive = make_zip(tmp_path / "l.zip", {"Dockerfile": b"FROM x\n"}, {"secret": str(canary)})
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(SubmissionRejected, match="symbolic link"):
        extract_zip(archive, dest, 10_000)
    assert not (dest / "secret").exists() and not (dest / "secret").is_symlink()


def test_unpacked_size_is_capped_whatever_the_zip_declares(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", {"zeros": b"\0" * 200_000})
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(SubmissionRejected, match="more than 100000 bytes"):
        extract_zip(archive, dest, 100_000)


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "x.zip"
    fake.write_bytes(b"not a zip at all")
    with pytest.raises(SubmissionRejected, match="not a valid zip"):
        extract_zip(fake, tmp_path, 10_000)


def test_links_out_of_a_folder_submission_are_never_read(tmp_path: Path) -> None:
    canary = tmp_path / "canary-secret.txt"
    canary.write_text('image = "TOKEN-7f3a"\nFROM secret\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "Dockerfile").symlink_to(canary)
    (sub / "submission.toml").symlink_to(canary)
    (sub / "package.json").symlink_to(canary)
    (sub / "inner.txt").write_text("ok")
    (sub / "Dockerfile.inner").symlink_to(sub / "inner.txt")
    assert not inside(sub, sub / "Dockerfile") and inside(sub, sub / "Dockerfile.inner")
    assert safe_file(sub, "Dockerfile") is None
    assert safe_file(sub, "Dockerfile.inner") == sub / "Dockerfile.inner"
    loaded = load_submission(sub)
    assert loaded.dockerfile == sub.resolve() / "Dockerfile.inner"  # the escaping one ignored
    with pytest.raises(Exception, match="no submission.toml"):
        read_declaration(sub)

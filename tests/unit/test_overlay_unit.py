"""overlay2 diff folders read in place: the same layer contents as their tars (runs as root)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from grader.stages import layers, overlay

XATTR = "trusted.overlay.opaque"


def _file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def _whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def _tar(members: list[tuple[str, int | None]]) -> layers.LayerContent:
    """A layer tar as Docker writes it (None: a folder), read back by ``read_layer``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, size in members:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE if size is None else tarfile.REGTYPE
            info.size = size or 0
            tar.addfile(info, io.BytesIO(b"x" * (size or 0)))
    buffer.seek(0)
    return layers.read_layer(buffer)


@pytest.fixture
def lower(tmp_path: Path) -> Path:
    """The first layer: files, a hard link pair, a symlink, a real device node."""
    root = tmp_path / "lower"
    _file(root / "app" / "a.py", 4)
    _file(root / "tmp" / "big.bin", 1000)
    _file(root / "data" / "x", 10)
    _file(root / "lib" / "one", 50)
    os.link(root / "lib" / "one", root / "lib" / "two")
    os.symlink("app/a.py", root / "link")
    os.mknod(root / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    return root


@pytest.fixture
def upper(tmp_path: Path) -> Path:
    """The second layer: a deletion, an opaque folder, an overwrite."""
    root = tmp_path / "upper"
    _file(root / "app" / "a.py", 6)
    _whiteout(root / "tmp" / "big.bin")
    _file(root / "data" / "y", 5)
    os.setxattr(root / "data", XATTR, b"y")
    return root


def test_a_diff_folder_reads_as_its_tar(lower: Path, upper: Path) -> None:
    first, left = overlay.read_diff_dir(str(lower), XATTR, 100)
    assert left == 100 - 11  # 4 folders, 5 files (one a hard link), a symlink, a device
    assert list(first.files.items()) == [
        ("app/a.py", 4),
        ("data/x", 10),
        ("lib/one", 50),
        ("tmp/big.bin", 1000),
    ]  # lib/two is the hard link member: no bytes of its own
    assert (first.deleted, first.opaque) == ([], [])
    second, _ = overlay.read_diff_dir(str(upper), XATTR, 100)
    tar = _tar(
        [
            ("app", None),
            ("app/a.py", 6),
            ("data", None),
            ("data/.wh..wh..opq", 0),
            ("data/y", 5),
            ("tmp", None),
            ("tmp/.wh.big.bin", 0),
        ]
    )
    assert second == tar
    assert (second.deleted, second.opaque) == (["tmp/big.bin"], ["data"])


def test_deleted_hidden_and_overwritten_bytes_are_wasted(lower: Path, upper: Path) -> None:
    first, second = overlay.read_layers([str(lower), str(upper)], XATTR, 100)
    added, wasted, tally = layers.waste_of([("COPY . .", first), ("RUN clean", second)])
    assert added == 4 + 10 + 50 + 1000 + 6 + 5
    found = {(o.kind, o.path): o.size_bytes for o in tally.offenders.values()}
    assert found == {
        ("deleted", "/tmp/big.bin"): 1000,
        ("deleted", "/data/x"): 10,
        ("overwritten", "/app/a.py"): 4,
    }
    assert wasted == 1014


def test_files_are_listed_in_the_tar_order(tmp_path: Path) -> None:
    _file(tmp_path / "a.txt", 1)
    _file(tmp_path / "a" / "b", 2)
    _file(tmp_path / "B", 3)
    content, _ = overlay.read_diff_dir(str(tmp_path), XATTR, 100)
    assert list(content.files) == ["B", "a/b", "a.txt"]  # bytewise, depth first


def test_a_folder_without_the_opaque_mark_or_with_another_value_is_not_opaque(
    tmp_path: Path,
) -> None:
    _file(tmp_path / "plain" / "f", 1)
    _file(tmp_path / "other" / "f", 1)
    os.setxattr(tmp_path / "other", XATTR, b"n")
    content, _ = overlay.read_diff_dir(str(tmp_path), XATTR, 100)
    assert content.opaque == []


def test_beyond_the_budget_or_unreadable_the_folders_are_not_used(lower: Path) -> None:
    with pytest.raises(overlay.Unreadable):
        overlay.read_layers([str(lower), str(lower)], XATTR, 15)
    with pytest.raises(overlay.Unreadable):
        overlay.read_diff_dir(str(lower / "absent"), XATTR, 100)
    with pytest.raises(overlay.Unreadable, match="in " + str(lower / "lib")):
        overlay.read_diff_dir(str(lower), XATTR, 6)  # lib/ holds 2 entries, 1 left for them


def test_a_symlinked_folder_is_not_followed(tmp_path: Path, lower: Path) -> None:
    root = tmp_path / "layer"
    root.mkdir()
    os.symlink(lower, root / "elsewhere")
    content, _ = overlay.read_diff_dir(str(root), XATTR, 100)
    assert content == layers.LayerContent()


def test_the_image_config_must_hash_to_the_image_id(tmp_path: Path) -> None:
    data = json.dumps({"rootfs": {"diff_ids": []}, "history": []}).encode()
    path = tmp_path / "config"
    path.write_bytes(data)
    image_id = "sha256:" + hashlib.sha256(data).hexdigest()
    assert overlay.read_config(str(path), image_id) == {"rootfs": {"diff_ids": []}, "history": []}
    with pytest.raises(overlay.Unreadable):
        overlay.read_config(str(path), "sha256:" + "0" * 64)
    with pytest.raises(overlay.Unreadable):
        overlay.read_config(str(tmp_path / "absent"), image_id)

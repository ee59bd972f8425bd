"""A submission's files as a task carries them: a gzipped tar, base64 text, size-bounded."""

from __future__ import annotations

import base64
import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

from grader.errors import SubmissionRejected


def folder_bytes(folder: Path) -> int:
    """The total size of the regular files under ``folder`` (links not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def pack(folder: Path, limit: int, only: Sequence[str] | None = None) -> str:
    """``folder``'s files (links kept as links), as base64 text of a gzipped tar; ``only``:
    just these paths relative to it (e.g. the build context, ``.dockerignore`` applied).

    Raises:
        SubmissionRejected: the files are larger than ``limit`` (the lab's context cap).
    """
    paths = sorted(folder.rglob("*")) if only is None else [folder / p for p in sorted(only)]
    paths = [p for p in paths if p.is_symlink() or p.exists()]
    size = sum(p.lstat().st_size for p in paths if p.is_file() and not p.is_symlink())
    if size > limit:
        raise SubmissionRejected(
            f"the submission's files take {size} bytes, more than the lab's limit of "
            f"{limit} bytes for a build context: remove what the image does not need"
        )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for path in paths:
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def unpack(text: str, folder: Path) -> None:
    """Write the files of ``pack``'s text into ``folder`` (made); members that would land
    outside it are refused by tarfile's ``data`` filter.

    Raises:
        SubmissionRejected: a member that would land outside ``folder``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(text)), mode="r:gz") as tar:
        try:
            tar.extractall(folder, filter="data")
        except tarfile.FilterError as exc:
            raise SubmissionRejected(f"a file the grader cannot copy: {exc}") from exc

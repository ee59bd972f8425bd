"""Unpack a submission that arrives as a ``.zip`` (a learning platform's export), safely.

Refused, with the reason: entries that would land outside the target folder (``../``,
absolute paths, drive letters), symbolic links, more files or more bytes than the caps (the
sizes a zip declares are not trusted: copying stops at the cap), and files that are not zips.
A zip made on Linux or macOS keeps its files' permission bits (an executable
``entrypoint.sh`` stays executable), never setuid, setgid or sticky; macOS's resource forks
(``__MACOSX/``, ``._*``) and ``.DS_Store`` files are left out.
"""

from __future__ import annotations

import contextlib
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from grader.errors import SubmissionRejected
from grader.intake.names import plain_name

UNPACKED_LIMIT = 500_000_000
"""Most bytes a submission archive may unpack to."""
MAX_FILES = 20_000
CHUNK = 1 << 16


def _safe_name(name: str) -> PurePosixPath:
    """The entry's relative path, or SubmissionRejected when it would escape."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise SubmissionRejected(f"the archive entry {name!r} would land outside the submission")
    return path


MACOS_NOISE_DIR = "__MACOSX"
MACOS_NOISE_FILE = ".DS_Store"
UNIX_SYSTEMS = frozenset({3, 19})
"""``create_system`` values whose external attributes carry a Unix mode: 3 (Unix, which
Linux's and macOS's zip tools write) and 19 (OS X)."""


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def is_macos_noise(path: PurePosixPath) -> bool:
    """True for what macOS adds to a zip: ``__MACOSX/``, ``.DS_Store`` and ``._*`` files."""
    name = path.name
    return MACOS_NOISE_DIR in path.parts or name == MACOS_NOISE_FILE or name.startswith("._")


def unix_mode(info: zipfile.ZipInfo) -> int | None:
    """The entry's permission bits (setuid, setgid and sticky dropped), or None when the zip
    was not made on a Unix system or carries no mode."""
    if info.create_system not in UNIX_SYSTEMS:
        return None
    mode = stat.S_IMODE(info.external_attr >> 16) & 0o777
    return mode or None


def extract_zip(archive: Path, dest: Path, max_bytes: int) -> Path:
    """Extract ``archive`` into ``dest``; returns the submission's folder.

    When everything sits in one top-level folder (a zipped folder), that folder is returned.

    Raises:
        SubmissionRejected: not a zip, or an unsafe or oversized one.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_FILES:
                raise SubmissionRejected(f"the archive holds more than {MAX_FILES} files")
            plan = [(info, _safe_name(info.filename)) for info in infos]
            links = [info.filename for info, _ in plan if _is_link(info)]
            if links:
                raise SubmissionRejected(f"the archive holds a symbolic link: {links[0]!r}")
            budget = max_bytes
            for info, rel in plan:
                if is_macos_noise(rel):
                    continue
                target = dest.joinpath(*rel.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    budget = _copy_capped(src, out, budget, max_bytes)
                if (mode := unix_mode(info)) is not None:
                    target.chmod(mode)
    except zipfile.BadZipFile as exc:
        raise SubmissionRejected(f"{archive.name} is not a valid zip archive") from exc
    except (OSError, RuntimeError) as exc:  # encrypted entries, unreadable file
        raise SubmissionRejected(f"{archive.name} cannot be extracted: {exc}") from exc
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


def _copy_capped(src: object, out: object, budget: int, max_bytes: int) -> int:
    while chunk := src.read(CHUNK):  # type: ignore[attr-defined]
        budget -= len(chunk)
        if budget < 0:
            raise SubmissionRejected(f"the archive unpacks to more than {max_bytes} bytes")
        out.write(chunk)  # type: ignore[attr-defined]
    return budget


def remove_tree(path: Path) -> None:
    """Delete an extraction folder (never follows links out of it)."""
    shutil.rmtree(path, ignore_errors=True)


def submission_name(path: Path) -> str:
    """A submission's name: its folder's real name (``grade .`` names the current folder),
    or its archive's without ``.zip``."""
    return plain_name(path)


@contextlib.contextmanager
def intake(path: Path) -> Iterator[Path]:
    """The submission's folder: ``path`` itself, or a zip safely extracted to a temporary
    folder that is removed afterwards, whatever happens.

    Raises:
        SubmissionRejected: an unsafe or invalid archive.
    """
    if path.suffix.lower() != ".zip":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="grader-zip-") as tmp:
        dest = Path(tmp) / submission_name(path)
        dest.mkdir()
        yield extract_zip(path, dest, UNPACKED_LIMIT)

"""Moodle's "Download all submissions": one ``Full Name_ID_assignsubmission_file_`` folder per
student (``Participant_ID_...`` under blind marking), as a folder or as the zip Moodle gives."""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.intake.zips import is_macos_noise

FOLDER = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_file_?$")
"""A student's folder in the export: full name, participant number."""
FLAT_FILE = re.compile(r"^(?P<folder>.+?_\d+_assignsubmission_file_)(?P<file>.+)$")
"""A student's file in an export made without folders ("Download submissions in folders"
off): the folder's name, then the file's."""
BLIND_NAME = "Participant"
"""The name Moodle puts in folder names under blind marking."""


@dataclass(frozen=True)
class MoodleStudent:
    """What a Moodle folder name says about its student."""

    name: str
    """The full name (``Participant 101`` under blind marking)."""
    moodle_id: str
    """The participant number, as in the grading worksheet's ``Participant 101``."""

    @property
    def short(self) -> str:
        """The submission's name in the reports: ``Claire Martin_101``."""
        return f"{self.name}_{self.moodle_id}" if self.name != self.identifier else self.name

    @property
    def identifier(self) -> str:
        """The worksheet's ``Identifier``: ``Participant 101``."""
        return f"{BLIND_NAME} {self.moodle_id}"


def parse_folder(name: str) -> MoodleStudent | None:
    """The student a Moodle export folder belongs to, or None when it is not one."""
    found = FOLDER.match(name)
    if found is None:
        return None
    full = found["name"].strip()
    if full == BLIND_NAME:
        full = f"{BLIND_NAME} {found['id']}"
    return MoodleStudent(full, found["id"])


def is_export(folder: Path) -> bool:
    """True when ``folder`` holds Moodle student folders or files (a class, not a submission)."""
    return any(
        parse_folder(p.name) if p.is_dir() else p.is_file() and FLAT_FILE.match(p.name)
        for p in folder.iterdir()
    )


def regroup(export: Path, dest: Path) -> Path:
    """The export with one folder per student: ``export`` itself, or when it was made without
    folders, ``dest`` holding its files regrouped (copied) into student folders."""
    flat = [
        (p, m) for p in sorted(export.iterdir()) if p.is_file() and (m := FLAT_FILE.match(p.name))
    ]
    if not flat:
        return export
    for folder in export.iterdir():
        if folder.is_dir() and parse_folder(folder.name):
            shutil.copytree(folder, dest / folder.name, symlinks=True)
    for path, found in flat:
        if parse_folder(found["folder"]) is not None:
            (dest / found["folder"]).mkdir(exist_ok=True)
            shutil.copy2(path, dest / found["folder"] / found["file"], follow_symlinks=False)
    return dest


def is_export_zip(archive: Path) -> bool:
    """True when the zip's top-level folders are Moodle student folders."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    tops = {
        PurePosixPath(n.replace("\\", "/")).parts[0]
        for n in names
        if n and not is_macos_noise(PurePosixPath(n))
    }
    return bool(tops) and all(parse_folder(top) or FLAT_FILE.match(top) for top in tops)

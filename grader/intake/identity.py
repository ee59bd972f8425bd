"""Who a submission belongs to and where it came from, as the intake learnt it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Identity:
    """A submission's owner and origin; every field empty when unknown."""

    kind: str = "folder"
    """How it arrived: ``folder``, ``zip``, ``moodle``, ``git`` or ``clone`` (a git clone on
    disk, e.g. what ``gh classroom clone student-repos`` writes)."""
    student: str = ""
    """Full name (Moodle's, the roster's or the ``--repos`` file's)."""
    email: str = ""
    moodle_id: str = ""
    """Moodle's participant number (``101`` in ``Claire Martin_101_assignsubmission_file_``)."""
    github_username: str = ""
    url: str = ""
    """The git URL graded."""
    sha: str = ""
    """The graded commit's full sha."""
    commit_date: str = ""
    """The graded commit's committer date (ISO 8601)."""
    later_commits: int | None = None
    """With ``--deadline``: commits after the deadline, left out."""
    deadline: str = ""
    graded_folder: str = ""
    """The folder graded, relative to the submission (``.`` for its root)."""
    other_folders: tuple[str, ...] = ()
    """Other folders holding a Dockerfile, seen but not graded."""

    def with_(self, **changes: Any) -> Identity:
        """A copy with some fields changed (empty values do not erase known ones)."""
        kept = {k: v for k, v in changes.items() if v not in ("", None, ())}
        return dataclasses.replace(self, **kept)

    def facts(self) -> dict[str, str]:
        """What the class outputs read from a report's facts (``student``, ``email``...)."""
        found = {"student": self.student, "email": self.email, "moodle_id": self.moodle_id}
        return {k: v for k, v in found.items() if v}

    def origin(self) -> dict[str, Any]:
        """report.json's ``origin``: the known fields only."""
        data = dataclasses.asdict(self)
        data["other_folders"] = list(self.other_folders)
        for key in ("student", "email"):
            del data[key]  # in facts, where gradebook.csv and the dashboard read them
        return {k: v for k, v in data.items() if v not in ("", None, [])}

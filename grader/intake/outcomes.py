"""What the intake tells a student whose work it could not hand over: a report scoring 0
(the Dockerfile's check ``failed`` and the others ``not_run``, or all ``error`` when the grader
could not reach the work), and the notes saying
which folder and commit were graded."""

from __future__ import annotations

from grader.errors import SubmissionError
from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.i18n import FIELDS, t
from grader.intake.identity import Identity
from grader.labs.spec import LabSpec


class IntakeFailed(SubmissionError):
    """The work cannot be graded as it arrived: ``key`` names its message in the catalogues."""

    def __init__(self, key: str, status: Status = Status.FAILED, **params: str) -> None:
        self.key, self.status, self.params = key, status, params
        super().__init__(t(f"{key}.summary", "en", **params))


def intake_report(name: str, lab: LabSpec | None, exc: IntakeFailed, lang: str) -> SubmissionReport:
    """Every check of ``lab`` at 0 with the reason (a note alone when the lab is unknown)."""
    fb = Feedback(**{f: t(f"{exc.key}.{f}", lang, **exc.params) for f in FIELDS})
    if lab is None:
        return assemble(name, "unknown", [], lang=lang, notes=(fb.as_text(),))
    if exc.status is Status.ERROR:
        checks = [
            CheckResult(c.id, Status.ERROR, 0.0, c.max_score, fb.as_text(), fb, "tool")
            for c in lab.checks
        ]
        return assemble(name, lab.id, checks, lang=lang, notes=(fb.summary,))
    # the student's: the Dockerfile's own check fails, every other one is not run, blocked by it
    owner = "dockerfile.present" if lab.check("dockerfile.present") else lab.checks[0].id
    checks = [
        CheckResult(c.id, Status.FAILED, 0.0, c.max_score, fb.as_text(), fb)
        if c.id == owner
        else CheckResult(c.id, Status.NOT_RUN, 0.0, c.max_score, fb.as_text(), fb, "", owner)
        for c in lab.checks
    ]
    return assemble(name, lab.id, checks, lang=lang, notes=(fb.summary,))


def intake_notes(identity: Identity, lang: str) -> tuple[str, ...]:
    """The report's notes on where its files came from: graded folder, graded commit."""
    notes = []
    if identity.graded_folder not in ("", "."):
        notes.append(t("intake.note.graded_folder", lang, folder=identity.graded_folder))
    if identity.other_folders:
        others = ", ".join(identity.other_folders)
        notes.append(t("intake.note.other_folders", lang, others=others))
    if identity.sha:
        notes.append(t("intake.note.commit", lang, sha=identity.sha, date=identity.commit_date))
    if identity.later_commits:
        notes.append(t("intake.note.later_commits", lang, count=str(identity.later_commits),
                       deadline=identity.deadline))  # fmt: skip
    return tuple(notes)

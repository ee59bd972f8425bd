"""What rubric checks use: the ``check`` marker, ``Grade`` (verdicts with feedback), pure helpers.

A check body reads facts and calls ``grade.fail(...)`` with an outcome name; the sentence the
student reads comes from the message catalogue in their language, never from the check.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar

import pytest

from grader.facts import DockerfileFacts, Instruction, Stage
from grader.i18n import feedback
from grader.results import Feedback

F = TypeVar("F", bound=Callable[..., Any])
FEEDBACK_KEY = pytest.StashKey[Feedback]()
"""Where a check's feedback is stored on its pytest item."""


def check(check_id: str) -> Callable[[F], F]:
    """Mark a test function as the rubric check ``check_id``."""
    marker: Callable[[F], F] = pytest.mark.check(check_id)
    return marker


class Grade:
    """The verdict helper handed to a check: its id, its lab parameters and the language."""

    def __init__(
        self,
        check_id: str,
        params: Any,
        lang: str,
        item: pytest.Item | None,
        limits: dict[str, object] | None = None,
    ) -> None:
        self.limits = limits or {}
        self.check_id = check_id
        self.params = params
        self.lang = lang
        self._item = item

    def _store(self, fb: Feedback) -> Feedback:
        if self._item is not None:
            self._item.stash[FEEDBACK_KEY] = fb
        return fb

    def fail(self, outcome: str = "failed", evidence: str = "", **params: Any) -> NoReturn:
        """Fail the check with the catalogue's ``<check id>:<outcome>`` feedback."""
        __tracebackhide__ = True
        fb = self._store(feedback(self.check_id, outcome, self.lang, evidence, **params))
        pytest.fail(fb.as_text(), pytrace=False)

    def limit(self, name: str) -> str:
        """A sandbox limit in force, as text (for messages)."""
        return str(self.limits.get(name, "?"))

    def note(self, outcome: str, evidence: str = "", **params: Any) -> None:
        """Pass the check, with a remark (e.g. a Dockerfile found under another name)."""
        self._store(feedback(self.check_id, outcome, self.lang, evidence, **params))


# -- pure helpers ----------------------------------------------------------------------------


def normalize(text: str, whitespace: bool, case_sensitive: bool) -> str:
    """Collapse whitespace and fold case as asked."""
    if whitespace:
        text = " ".join(text.split())
    return text if case_sensitive else text.casefold()


def text_matches(body: str, expected: str, match: str, whitespace: bool, case: bool) -> bool:
    """Compare a response body with the expected text (contains, exact or regex)."""
    if match == "regex":
        flags = 0 if case else re.IGNORECASE
        return re.search(expected, normalize(body, whitespace, True), flags) is not None
    got, want = normalize(body, whitespace, case), normalize(expected, whitespace, case)
    return want in got if match == "contains" else got == want


def excerpt(text: str, limit: int = 120) -> str:
    """A one-line excerpt of ``text`` for a ``found:`` line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def show(ins: Instruction) -> str:
    """An instruction as the student wrote it, with its line: ``line 7: COPY . .``."""
    flags = " ".join(ins.flags)
    return f"line {ins.line}: {ins.keyword} {flags + ' ' if flags else ''}{ins.value}"


def resolve_base(facts: DockerfileFacts, stage: Stage) -> str:
    """The image a stage really starts from, following ``FROM <earlier stage>`` aliases."""
    return facts.lineage(stage)[-1].base


def sources(ins: Instruction) -> tuple[str, ...]:
    """The source arguments of a COPY/ADD (all but the destination)."""
    return ins.args[:-1] if len(ins.args) > 1 else ()


def brings(ins: Instruction, filename: str) -> bool:
    """True when this COPY/ADD (not ``--from``) brings ``filename`` from the build context."""
    if ins.keyword not in ("COPY", "ADD") or any(f.startswith("--from") for f in ins.flags):
        return False
    for src in sources(ins):
        clean = src.removeprefix("./").rstrip("/")
        if clean in ("", ".", "*") or fnmatch.fnmatch(filename, clean):
            return True
    return False


def brings_other_than(ins: Instruction, deps_files: list[str]) -> bool:
    """True when this COPY/ADD brings from the context anything but dependency manifests."""
    if ins.keyword not in ("COPY", "ADD") or any(f.startswith("--from") for f in ins.flags):
        return False
    names = {d.rsplit("/", 1)[-1] for d in deps_files}
    return any(src.removeprefix("./").rstrip("/") not in names for src in sources(ins))


def whole_stage_copy(ins: Instruction, stages: tuple[Stage, ...]) -> bool:
    """True for ``COPY --from=<stage> <its whole workdir or root> ...``: a cosmetic stage."""
    origin = next((f.split("=", 1)[1] for f in ins.flags if f.startswith("--from=")), None)
    if ins.keyword != "COPY" or origin is None:
        return False
    stage = next((s for s in stages if s.name == origin or str(s.index) == origin), None)
    if stage is None:
        return False
    workdirs = [i.value.strip().strip("\"'") for i in stage.instructions if i.keyword == "WORKDIR"]
    workdir = workdirs[-1].rstrip("/") if workdirs else ""
    whole = {"", ".", "/", workdir, f"{workdir}/."}
    return any(src.rstrip("/") in whole or src in whole for src in sources(ins))


def first_index(items: Iterable[Instruction], keep: Callable[[Instruction], bool]) -> int | None:
    """Position of the first instruction satisfying ``keep``."""
    return next((i for i, ins in enumerate(items) if keep(ins)), None)

"""What rubric checks use: the ``check`` marker, ``Grade`` (verdicts with feedback), text helpers.

A check body reads facts and calls ``grade.fail(...)`` with an outcome name; the sentence the
student reads comes from the message catalogue in their language, never from the check.
The Dockerfile helpers checks use are in ``grader.dockerfile.instructions`` (no pytest
there: the grader's stages use them too, and pytest is loaded off the build's critical path).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import pytest

from grader.facts.results import Feedback
from grader.i18n import feedback

F = TypeVar("F", bound=Callable[..., Any])
FEEDBACK_KEY = pytest.StashKey[Feedback]()
"""Where a check's feedback is stored on its pytest item."""
STATED_KEY = pytest.StashKey[bool]()
"""Set on a check's item when it was judged from the Dockerfile (the image did not build)."""


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

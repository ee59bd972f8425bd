"""``t(key, lang, **params)``: every sentence a student reads, from messages/{fr,en}.toml."""

from __future__ import annotations

import functools
import string
import tomllib
from pathlib import Path
from typing import Any

from grader.facts.results import Feedback

MESSAGES_DIR = Path(__file__).parent / "messages"
LANGS = ("fr", "en")
FIELDS = ("summary", "expected", "found", "fix")


@functools.cache
def catalogue(lang: str) -> dict[str, Any]:
    """The message catalogue of one language (nested tables as in the TOML file)."""
    path = MESSAGES_DIR / f"{lang if lang in LANGS else 'en'}.toml"
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _lookup(key: str, lang: str) -> Any:
    node: Any = catalogue(lang)
    for part in _split_key(key):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _split_key(key: str) -> list[str]:
    """``"http.root_text".failed.summary`` style keys: a check id is one part."""
    head, sep, rest = key.partition(":")
    return [head, *rest.split(".")] if sep else key.split(".")


class _Safe(dict[str, Any]):
    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def t(key: str, lang: str, **params: Any) -> str:
    """The message ``key`` in ``lang`` with ``params`` filled in (English if missing).

    Keys of check messages are written ``"<check id>:<outcome>.<field>"``, e.g.
    ``"http.root_text:failed.summary"``.
    """
    text = _lookup(key, lang)
    if not isinstance(text, str):
        text = _lookup(key, "en")
    if not isinstance(text, str):
        return key
    return string.Formatter().vformat(text, (), _Safe(params))


def feedback(check_id: str, outcome: str, lang: str, evidence: str = "", **params: Any) -> Feedback:
    """The four-part feedback of a check outcome, in ``lang``."""
    parts = {f: t(f"{check_id}:{outcome}.{f}", lang, **params) for f in FIELDS}
    missing = f"{check_id}:{outcome}."
    return Feedback(
        **{f: ("" if v.startswith(missing) else v) for f, v in parts.items()}, evidence=evidence
    )


def placeholders(text: str) -> set[str]:
    """Names of the ``{placeholders}`` in a template."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}

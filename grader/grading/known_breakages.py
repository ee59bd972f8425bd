"""Recognise known breakages in build and container logs, from the data-driven catalogue."""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from grader.facts import Diagnosis, DockerfileFacts
from grader.i18n import LANGS

CATALOGUE = Path(__file__).parent / "known_breakages.toml"
LOGS = ("build", "run")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
"""Colour codes the classic builder puts around a step's error output."""
Log = Literal["build", "run"]


@dataclass(frozen=True)
class Breakage:
    """One catalogue entry: where to look, what to look for, and what to say."""

    id: str
    logs: tuple[str, ...]
    pattern: re.Pattern[str]
    dockerfile: re.Pattern[str] | None
    cause: dict[str, str]
    fix: dict[str, str]


def _texts(entry: dict[str, Any], key: str, where: str) -> dict[str, str]:
    texts = entry.get(key)
    if not isinstance(texts, dict) or set(texts) != set(LANGS):
        raise ValueError(f"{where}: {key} needs exactly {', '.join(LANGS)}")
    if not all(isinstance(v, str) and v.strip() for v in texts.values()):
        raise ValueError(f"{where}: {key} texts must not be empty")
    return {str(k): str(v) for k, v in texts.items()}


def parse_catalogue(data: dict[str, Any]) -> tuple[Breakage, ...]:
    """Validate a catalogue's data (as read from TOML) and compile its patterns.

    Raises:
        ValueError: an entry lacks a language, has an unknown key or a bad pattern.
    """
    entries = []
    known = {"id", "logs", "pattern", "dockerfile", "cause", "fix"}
    for n, entry in enumerate(data.get("breakage", [])):
        where = f"breakage[{n}] {entry.get('id', '?')}"
        if set(entry) - known or not isinstance(entry.get("id"), str):
            raise ValueError(f"{where}: unknown keys {sorted(set(entry) - known)} or no id")
        logs = tuple(entry.get("logs", ()))
        if not logs or set(logs) - set(LOGS):
            raise ValueError(f"{where}: logs must be among {LOGS}")
        try:
            pattern = re.compile(str(entry["pattern"]))
            dockerfile = entry.get("dockerfile")
            dockerfile_re = re.compile(str(dockerfile)) if dockerfile else None
        except (KeyError, re.error) as exc:
            raise ValueError(f"{where}: bad pattern: {exc}") from exc
        cause, fix = _texts(entry, "cause", where), _texts(entry, "fix", where)
        entries.append(Breakage(entry["id"], logs, pattern, dockerfile_re, cause, fix))
    return tuple(entries)


@functools.cache
def catalogue() -> tuple[Breakage, ...]:
    """The built-in catalogue (``known_breakages.toml``), read once."""
    with CATALOGUE.open("rb") as handle:
        return parse_catalogue(tomllib.load(handle))


def dockerfile_source(facts: DockerfileFacts | None) -> str:
    """The Dockerfile's instructions, one per line, as catalogue conditions read them."""
    if facts is None:
        return ""
    lines = []
    for ins in facts.instructions:
        text = " ".join(ins.args) if ins.exec_form else ins.value
        lines.append(" ".join([ins.keyword, *ins.flags, text]))
    return "\n".join(lines)


def diagnose(
    log: str,
    where: Log,
    lang: str,
    dockerfile: DockerfileFacts | None = None,
    entries: tuple[Breakage, ...] | None = None,
) -> tuple[Diagnosis, ...]:
    """The known breakages whose pattern shows in ``log``, each once, in catalogue order."""
    source = dockerfile_source(dockerfile)
    lines = ANSI.sub("", log).splitlines()
    found = []
    for entry in catalogue() if entries is None else entries:
        if where not in entry.logs:
            continue
        if entry.dockerfile is not None and not entry.dockerfile.search(source):
            continue
        line = next((ln for ln in lines if entry.pattern.search(ln)), None)
        if line is None:
            continue
        language = lang if lang in entry.cause else "en"
        found.append(
            Diagnosis(entry.id, line.strip()[:300], entry.cause[language], entry.fix[language])
        )
    return tuple(found)

"""Parse a Dockerfile into DockerfileFacts: stages, instructions with lines, exec vs shell form."""

from __future__ import annotations

import io
import json
import logging
import re
import shlex
from pathlib import Path

from dockerfile_parse import DockerfileParser

from grader.errors import SubmissionRejected
from grader.facts import DockerfileFacts, Instruction, Stage

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"
MAX_BYTES = 1_000_000
HEREDOC_START = re.compile(r"^\s*(RUN|COPY|ADD)\s", re.IGNORECASE)
HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][\w.-]*)\2")
"""A heredoc marker (``<<EOF``, ``<<-EOT``, ``<<'EOF'``): its dash, quote and word."""


def split_heredocs(text: str) -> tuple[str, dict[int, list[str]]]:
    """The text with heredoc bodies blanked (so that the parser sees one instruction, its
    later lines keeping their numbers), and each body by its instruction's line (pure).

    A body runs from the line after its instruction to the line holding its word alone
    (tabs stripped first for ``<<-``); several heredocs on one line follow each other.
    """
    lines = text.split("\n")
    out: list[str] = []
    bodies: dict[int, list[str]] = {}
    i = 0
    while i < len(lines):
        out.append(lines[i])
        markers = HEREDOC.findall(lines[i]) if HEREDOC_START.match(lines[i]) else []
        start, body = i + 1, []
        for dash, _quote, word in markers:
            while i + 1 < len(lines):
                i += 1
                body.append(lines[i])
                out.append("")
                if (lines[i].lstrip("\t") if dash else lines[i]) == word:
                    break
        if body:
            bodies[start] = body
        i += 1
    return "\n".join(out), bodies


def _exec_args(value: str) -> tuple[str, ...] | None:
    """The JSON-array arguments of an exec-form instruction, or None for shell form."""
    text = value.strip()
    if not text.startswith("["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(a, str) for a in parsed):
        return tuple(parsed)
    return None


def _split_flags(value: str) -> tuple[tuple[str, ...], str]:
    """Leading ``--flag[=value]`` options and the rest of the arguments."""
    flags: list[str] = []
    rest = value.strip()
    while rest.startswith("--"):
        head, _, tail = rest.partition(" ")
        flags.append(head)
        rest = tail.strip()
    return tuple(flags), rest


def _words(text: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text, posix=True))
    except ValueError:  # unbalanced quotes: fall back to whitespace
        return tuple(text.split())


def parse_text(text: str, path: Path, had_bom: bool = False) -> DockerfileFacts:
    """Parse Dockerfile source text (BOM already removed)."""
    had_crlf = "\r\n" in text
    text, heredocs = split_heredocs(text.replace("\r\n", "\n"))
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    instructions: list[Instruction] = []
    stage = -1
    for item in parser.structure:
        keyword = str(item["instruction"]).upper()
        if keyword in ("COMMENT", "PARSER_DIRECTIVE"):
            continue
        if keyword == "FROM":
            stage += 1
        flags, rest = _split_flags(str(item["value"]))
        body = heredocs.get(int(item["startline"]) + 1)
        if body and int(item["endline"]) == int(item["startline"]):
            rest = "\n".join([rest, *body])  # the heredoc, as written
        exec_args = _exec_args(rest)
        instructions.append(
            Instruction(
                keyword=keyword,
                value=rest,
                line=int(item["startline"]) + 1,
                stage=stage,
                exec_form=exec_args is not None,
                args=exec_args if exec_args is not None else _words(rest),
                flags=flags,
            )
        )
    return DockerfileFacts(
        path=path,
        instructions=tuple(instructions),
        stages=_stages(instructions),
        had_bom=had_bom,
        had_crlf=had_crlf,
    )


def _stages(instructions: list[Instruction]) -> tuple[Stage, ...]:
    stages = []
    for ins in instructions:
        if ins.keyword != "FROM":
            continue
        words = ins.args
        name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
        body = tuple(i for i in instructions if i.stage == ins.stage)
        stages.append(Stage(ins.stage, words[0] if words else "", name, body))
    return tuple(stages)


def parse_dockerfile(path: Path) -> DockerfileFacts:
    """Read and parse a Dockerfile; CRLF line endings and a UTF-8 BOM are accepted.

    Raises:
        SubmissionRejected: the file is too large or not text.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SubmissionRejected(f"cannot read {path.name}: {exc.strerror}") from exc
    if len(raw) > MAX_BYTES:
        raise SubmissionRejected(f"{path.name} is larger than {MAX_BYTES} bytes")
    if b"\0" in raw:
        raise SubmissionRejected(f"{path.name} is a binary file, not a Dockerfile")
    had_bom = raw.startswith(BOM)
    text = raw[len(BOM) :] if had_bom else raw
    return parse_text(text.decode("utf-8", errors="replace"), path, had_bom)


def instruction_for_step(facts: DockerfileFacts, step: int) -> Instruction | None:
    """The instruction the classic builder calls ``Step <step>/N`` (1-based, all stages)."""
    if 1 <= step <= len(facts.instructions):
        return facts.instructions[step - 1]
    return None


def image_repository(reference: str) -> str:
    """The repository part of an image reference: ``docker.io/library/python:3`` -> ``python``."""
    ref = reference.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref = ref[: len(ref) - len(last)] + last.split(":", 1)[0]
    for prefix in ("docker.io/library/", "index.docker.io/library/", "library/", "docker.io/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref

"""grader/dockerfile/parse.py: parsing, forms, flags, stages, lines, image references, rejects."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.dockerfile.parse import (
    MAX_BYTES,
    image_repository,
    instruction_for_step,
    parse_dockerfile,
    parse_text,
)
from grader.errors import SubmissionRejected
from grader.facts import DockerfileFacts

MULTI = """\
ARG PY=3.11
FROM python:${PY}-slim AS build
WORKDIR /src
RUN pip install \\
    flask \\
    gunicorn
FROM python:3.11-slim
# a comment
COPY --from=build --chown=1000 a b
ENTRYPOINT ["gunicorn"]
CMD gunicorn app:app
run echo hi
"""


def parse(text: str) -> DockerfileFacts:
    return parse_text(text, Path("Dockerfile"))


def keywords(facts: DockerfileFacts) -> list[str]:
    return [i.keyword for i in facts.instructions]


def test_clean_file_instructions_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(MULTI, encoding="utf-8")
    facts = parse_dockerfile(path)
    assert facts.path == path
    assert keywords(facts) == ["ARG", "FROM", "WORKDIR", "RUN", "FROM", "COPY", "ENTRYPOINT"] + [
        "CMD",
        "RUN",
    ]
    assert [i.line for i in facts.instructions] == [1, 2, 3, 4, 7, 9, 10, 11, 12]
    assert facts.had_bom is False
    assert facts.had_crlf is False


def test_crlf_and_bom_give_the_same_instructions(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    clean.write_bytes(MULTI.encode("utf-8"))
    windows = tmp_path / "windows"
    windows.write_bytes(b"\xef\xbb\xbf" + MULTI.replace("\n", "\r\n").encode("utf-8"))
    a, b = parse_dockerfile(clean), parse_dockerfile(windows)
    assert b.instructions == a.instructions
    assert b.stages == a.stages
    assert (b.had_bom, b.had_crlf) == (True, True)
    assert (a.had_bom, a.had_crlf) == (False, False)


def test_bom_alone_is_flagged_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"\xef\xbb\xbfFROM python:3.11\n")
    facts = parse_dockerfile(path)
    assert (facts.had_bom, facts.had_crlf) == (True, False)
    assert facts.instructions[0].keyword == "FROM"
    assert facts.instructions[0].value == "python:3.11"


def test_exec_and_shell_forms() -> None:
    facts = parse(
        'FROM python\nENTRYPOINT ["gunicorn", "-b", "0.0.0.0:8000"]\nCMD gunicorn app:app\n'
        'RUN ["pip", "install", "flask"]\nRUN pip install "flask==3.0"\n'
    )
    ep, cmd, run_exec, run_shell = facts.instructions[1:]
    assert ep.exec_form is True
    assert ep.args == ("gunicorn", "-b", "0.0.0.0:8000")
    assert cmd.exec_form is False
    assert cmd.args == ("gunicorn", "app:app")
    assert run_exec.exec_form is True
    assert run_exec.args == ("pip", "install", "flask")
    assert run_shell.exec_form is False
    assert run_shell.args == ("pip", "install", "flask==3.0")


def test_invalid_json_array_is_shell_form() -> None:
    facts = parse("FROM python\nCMD [gunicorn, app:app]\nCMD ['gunicorn']\n")
    assert [i.exec_form for i in facts.instructions[1:]] == [False, False]


def test_flags_are_split_from_arguments() -> None:
    facts = parse("FROM python\nCOPY --from=build --chown=1000 a b\nCOPY c d\n")
    copy, plain = facts.instructions[1:]
    assert copy.flags == ("--from=build", "--chown=1000")
    assert copy.value == "a b"
    assert copy.args == ("a", "b")
    assert plain.flags == ()


def test_stages_aliases_and_final_stage() -> None:
    facts = parse(MULTI)
    assert [(s.index, s.base, s.name) for s in facts.stages] == [
        (0, "python:${PY}-slim", "build"),
        (1, "python:3.11-slim", None),
    ]
    assert facts.final_stage == facts.stages[1]
    assert [i.keyword for i in facts.stages[0].instructions] == ["FROM", "WORKDIR", "RUN"]
    assert [i.keyword for i in facts.stages[1].instructions] == [
        "FROM",
        "COPY",
        "ENTRYPOINT",
        "CMD",
        "RUN",
    ]


def test_lowercase_as_alias_and_platform_flag() -> None:
    facts = parse("FROM --platform=linux/amd64 python:3.11 as base\nFROM base\n")
    assert facts.stages[0].name == "base"
    assert facts.stages[0].base == "python:3.11"
    assert facts.instructions[0].flags == ("--platform=linux/amd64",)


def test_arg_before_from_has_stage_minus_one() -> None:
    facts = parse(MULTI)
    assert facts.instructions[0].keyword == "ARG"
    assert facts.instructions[0].stage == -1
    assert [i.stage for i in facts.instructions[1:]] == [0, 0, 0, 1, 1, 1, 1, 1]


def test_no_from_means_no_final_stage() -> None:
    facts = parse("RUN echo hi\n")
    assert facts.stages == ()
    assert facts.final_stage is None


def test_continuation_lines_keep_the_start_line() -> None:
    run = parse(MULTI).instructions[3]
    assert run.keyword == "RUN"
    assert run.line == 4
    assert run.args == ("pip", "install", "flask", "gunicorn")


def test_lowercase_keyword_is_upper_cased() -> None:
    assert parse(MULTI).instructions[-1].keyword == "RUN"


def test_comments_and_parser_directives_are_not_instructions() -> None:
    facts = parse("# syntax=docker/dockerfile:1\n# hello\nFROM python\n")
    assert keywords(facts) == ["FROM"]
    assert facts.instructions[0].line == 3


def test_instruction_for_step_counts_every_instruction() -> None:
    facts = parse(MULTI)
    assert instruction_for_step(facts, 1) == facts.instructions[0]
    step4 = instruction_for_step(facts, 4)
    assert step4 is not None
    assert (step4.keyword, step4.line) == ("RUN", 4)
    step6 = instruction_for_step(facts, 6)
    assert step6 is not None
    assert (step6.keyword, step6.line) == ("COPY", 9)
    assert instruction_for_step(facts, 0) is None
    assert instruction_for_step(facts, 10) is None


@pytest.mark.parametrize(
    ("reference", "repository"),
    [
        ("python:3.11-slim", "python"),
        ("python", "python"),
        ("docker.io/library/python:3@sha256:" + "a" * 64, "python"),
        ("index.docker.io/library/python:3.12", "python"),
        ("library/python", "python"),
        ("localhost:5000/python:3", "localhost:5000/python"),
        ("localhost:5000/python", "localhost:5000/python"),
        ("bitnami/python", "bitnami/python"),
        ("docker.io/bitnami/python:3.11", "bitnami/python"),
        ("ghcr.io/org/python:3.11", "ghcr.io/org/python"),
    ],
)
def test_image_repository(reference: str, repository: str) -> None:
    assert image_repository(reference) == repository


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM python\n\x00\x01\x02")
    with pytest.raises(SubmissionRejected, match="binary"):
        parse_dockerfile(path)


def test_too_large_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM python\n" + b"# padding\n" * (MAX_BYTES // 10 + 1))
    assert path.stat().st_size > MAX_BYTES
    with pytest.raises(SubmissionRejected, match="larger"):
        parse_dockerfile(path)


def test_unreadable_path_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SubmissionRejected):
        parse_dockerfile(tmp_path)  # a folder: read_bytes fails


def test_lineage_follows_from_aliases_and_stops_on_a_loop() -> None:
    facts = parse(
        "FROM node:18 AS deps\nFROM deps AS build\nFROM node:18-slim AS run\nFROM build\n"
    )
    final = facts.stages[-1]
    assert [s.index for s in facts.lineage(final)] == [3, 1, 0]
    assert facts.lineage(final)[-1].base == "node:18"
    assert [s.index for s in facts.lineage(facts.stages[2])] == [2]
    looped = parse("FROM b AS a\nFROM a AS b\n")
    assert [s.index for s in looped.lineage(looped.stages[1])] == [1, 0]

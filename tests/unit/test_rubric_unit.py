"""grader/grading/rubric.py pure helpers: text matching, COPY/ADD sources, stage aliases,
excerpts."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.dockerfile.instructions import brings, first_index, resolve_base, show, sources
from grader.dockerfile.parse import parse_text
from grader.facts import DockerfileFacts, Instruction
from grader.grading.rubric import excerpt, normalize, text_matches


def parse(text: str) -> DockerfileFacts:
    return parse_text(text, Path("Dockerfile"))


def one(line: str) -> Instruction:
    """The instruction of a one-line Dockerfile body (after a FROM)."""
    return parse(f"FROM python\n{line}\n").instructions[1]


# -- text_matches --------------------------------------------------------------------------------


def test_contains() -> None:
    body = "<h1>Hello Docker!</h1>"
    assert text_matches(body, "Hello Docker!", "contains", True, True) is True
    assert text_matches(body, "Hello World!", "contains", True, True) is False


def test_exact() -> None:
    assert text_matches("Hello Docker!", "Hello Docker!", "exact", True, True) is True
    assert text_matches("<p>Hello Docker!</p>", "Hello Docker!", "exact", True, True) is False
    assert text_matches("  Hello Docker!\n", "Hello Docker!", "exact", True, True) is True
    assert text_matches("  Hello Docker!\n", "Hello Docker!", "exact", False, True) is False


def test_regex() -> None:
    assert text_matches("Hello Docker 42", r"Docker \d+$", "regex", True, True) is True
    assert text_matches("Hello Docker x", r"Docker \d+$", "regex", True, True) is False
    assert text_matches("hello DOCKER 1", r"docker \d", "regex", True, False) is True
    assert text_matches("hello DOCKER 1", r"docker \d", "regex", True, True) is False


def test_whitespace_normalisation() -> None:
    body = "Hello\n    Docker!\t"
    assert text_matches(body, "Hello Docker!", "contains", True, True) is True
    assert text_matches(body, "Hello Docker!", "contains", False, True) is False
    assert text_matches("Hello Docker!", "Hello   Docker!", "contains", True, True) is True
    assert text_matches("Hello\n  Docker!", r"Hello Docker", "regex", True, True) is True


def test_case_insensitive() -> None:
    assert text_matches("HELLO docker!", "Hello Docker!", "contains", True, False) is True
    assert text_matches("HELLO docker!", "Hello Docker!", "contains", True, True) is False
    assert text_matches("STRASSE", "straße", "exact", True, False) is True  # casefold


def test_normalize() -> None:
    assert normalize(" A \n B ", True, False) == "a b"
    assert normalize(" A \n B ", False, True) == " A \n B "


# -- brings / sources ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "filename", "expected"),
    [
        ("COPY . .", "app.py", True),
        ("COPY ./ /app", "app.py", True),
        ("COPY . /app/", "requirements.txt", True),
        ("COPY *.py .", "app.py", True),
        ("COPY *.py .", "requirements.txt", False),
        ("COPY requirements.txt .", "requirements.txt", True),
        ("COPY requirements.txt .", "app.py", False),
        ("COPY ./requirements.txt ./", "requirements.txt", True),
        ("COPY app.py config.py /app/", "config.py", True),
        ('COPY ["app.py", "/app/"]', "app.py", True),
        ("COPY --chown=1000:1000 . .", "app.py", True),
        ("COPY --from=build /app .", "app.py", False),
        ("COPY --from=build /app/app.py .", "app.py", False),
        ("COPY --from=build app.py .", "app.py", False),
        ("COPY --from=build . .", "app.py", False),
        ("ADD . /app", "app.py", True),
        ("ADD requirements.txt /app/", "requirements.txt", True),
        ("RUN cp app.py /app", "app.py", False),
        ("COPY app.py", "app.py", False),
    ],
)
def test_brings(line: str, filename: str, expected: bool) -> None:
    assert brings(one(line), filename) is expected


def test_sources_are_all_but_the_destination() -> None:
    assert sources(one("COPY a b c /dst/")) == ("a", "b", "c")
    assert sources(one("COPY onlyone")) == ()


# -- resolve_base, show, first_index, excerpt ----------------------------------------------------


def test_resolve_base_follows_aliases() -> None:
    facts = parse("FROM python:3.11 AS base\nRUN pip install flask\nFROM base\nCOPY . .\n")
    final = facts.final_stage
    assert final is not None
    assert resolve_base(facts, final) == "python:3.11"


def test_resolve_base_follows_a_chain_of_aliases() -> None:
    facts = parse("FROM python:3.12-slim AS a\nFROM a AS b\nFROM b AS c\nFROM c\n")
    final = facts.final_stage
    assert final is not None
    assert resolve_base(facts, final) == "python:3.12-slim"


def test_resolve_base_of_a_plain_image_and_a_self_loop() -> None:
    facts = parse("FROM python:3.11 AS build\nFROM alpine:3.19\n")
    assert resolve_base(facts, facts.stages[1]) == "alpine:3.19"
    loop = parse("FROM base AS base\n")
    assert resolve_base(loop, loop.stages[0]) == "base"


def test_show() -> None:
    facts = parse("FROM python\n\nCOPY --from=build --chown=1000 /app .\nADD x y\n")
    assert show(facts.instructions[1]) == "line 3: COPY --from=build --chown=1000 /app ."
    assert show(facts.instructions[2]) == "line 4: ADD x y"


def test_first_index() -> None:
    body = parse("FROM python\nRUN a\nCOPY x y\nRUN b\n").instructions
    assert first_index(body, lambda i: i.keyword == "RUN") == 1
    assert first_index(body, lambda i: i.keyword == "USER") is None


def test_excerpt() -> None:
    assert excerpt("  Hello \n  Docker!  ") == "Hello Docker!"
    long = "x" * 200
    cut = excerpt(long, 50)
    assert len(cut) == 50
    assert cut == "x" * 49 + "…"
    assert excerpt("y" * 50, 50) == "y" * 50

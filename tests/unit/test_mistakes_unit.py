"""grader/dockerfile/mistakes.py and grader/stages/context.py: pinned bases, secrets, npm
install, labels, context."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.dockerfile.mistakes import (
    build_stage_labels,
    describe_secret,
    heavy_entries,
    mask_secret_values,
    npm_install_from_manifest,
    secrets,
    size_text,
    unpinned_bases,
)
from grader.dockerfile.parse import parse_text
from grader.facts import DockerfileFacts
from grader.intake.submission import load_submission
from grader.labs.spec import load_lab_file
from grader.stages.context import context_facts, measure

NAMES = ["PASSWORD", "PASSWD", "TOKEN", "SECRET", "API_KEY", "APIKEY", "ACCESS_KEY"]
HEAVY = ["node_modules", ".git", ".venv", "venv", "__pycache__"]


def parse(text: str) -> DockerfileFacts:
    return parse_text(text, Path("Dockerfile"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM python:3.11-slim\n", []),
        ("FROM python\n", [(1, "python", "no_tag")]),
        ("FROM python:latest\n", [(1, "python:latest", "latest")]),
        ("FROM node:18 AS build\nFROM build\nFROM scratch\n", []),
        ("FROM node AS build\nFROM node:18-slim\n", [(1, "node", "no_tag")]),
        ("ARG V=3.11\nFROM python:${V}-slim\n", []),
        ("ARG BASE=node\nFROM $BASE\n", [(2, "node", "no_tag")]),
        ("ARG T\nFROM python:${T}\n", [(2, "python:${T}", "unresolved")]),
        ("FROM ${BASE:-node:18}\n", []),
        ("FROM python@sha256:" + "a" * 64 + "\n", []),
        ("FROM localhost:5000/team/app\n", [(1, "localhost:5000/team/app", "no_tag")]),
        ("FROM localhost:5000/team/app:1.2\n", []),
        ("FROM --platform=linux/amd64 node:latest AS b\n", [(1, "node:latest", "latest")]),
    ],
)
def test_unpinned_bases(text: str, expected: list[tuple[int, str, str]]) -> None:
    found = [(u.instruction.line, u.reference, u.reason) for u in unpinned_bases(parse(text))]
    assert found == expected


def test_require_digest_reports_tags_too() -> None:
    found = unpinned_bases(parse("FROM python:3.11-slim\n"), require_digest=True)
    assert [u.reason for u in found] == ["no_digest"]


def test_secrets_in_env_arg_and_image_are_found_and_never_printed() -> None:
    facts = parse(
        "FROM python:3.11-slim\n"
        'ENV SECRET_KEY="a3f9c2e17b5d4e08" APP_ENV=prod\n'
        "ENV DB_PASSWORD hunter2\n"
        "ARG NPM_TOKEN\n"
        "ENV PWD=/app GPG_KEY=A035C8C19219BA82\n"
    )
    env = {"SECRET_KEY": "a3f9c2e17b5d4e08", "GITHUB_TOKEN": "ghp_abcdef", "PATH": "/usr/bin"}
    found = secrets(facts, env, NAMES, [])
    assert [(s.name, s.where, s.line) for s in found] == [
        ("SECRET_KEY", "ENV", 2),
        ("DB_PASSWORD", "ENV", 3),
        ("NPM_TOKEN", "ARG", 4),
        ("GITHUB_TOKEN", "image", None),
    ]
    shown = "\n".join(map(describe_secret, found))
    for value in ("a3f9c2e17b5d4e08", "hunter2", "ghp_abcdef"):
        assert value not in shown
    assert "line 2: ENV SECRET_KEY=******" in shown and "line 4: ARG NPM_TOKEN=(empty)" in shown


def test_allowed_names_pass() -> None:
    facts = parse("FROM python:3.11-slim\nENV TOKEN_URL=https://auth.example/token\n")
    assert secrets(facts, {}, NAMES, ["TOKEN_URL"]) == []


@pytest.mark.parametrize(
    ("run", "flagged"),
    [
        ("RUN npm install", True),
        ("RUN npm i", True),
        ("RUN npm install --omit=dev", True),
        ("RUN npm ci", False),
        ("RUN npm ci --omit=dev && npm cache clean --force", False),
        ("RUN npm install -g nodemon", False),
        ("RUN npm install express@4.21.2", False),
        ('RUN ["npm", "install"]', True),
        ("RUN cd /app && npm install && npm test", True),
        ("COPY npm install", False),
    ],
)
def test_npm_install_from_manifest(run: str, flagged: bool) -> None:
    ins = parse(f"FROM node:18\n{run}\n").instructions[1]
    assert npm_install_from_manifest(ins) is flagged


def test_a_label_only_in_the_build_stage_is_found() -> None:
    facts = parse(
        'FROM node:18 AS build\nLABEL maintainer="A B" version=1\nFROM node:18-slim\nCMD ["x"]\n'
    )
    assert [i.line for i in build_stage_labels(facts, "maintainer")] == [2]
    assert build_stage_labels(facts, "author") == []


def test_a_label_the_final_stage_inherits_is_not_reported() -> None:
    facts = parse('FROM node:18 AS base\nLABEL maintainer="A B"\nFROM base\nCMD ["x"]\n')
    assert build_stage_labels(facts, "maintainer") == []
    legacy = parse('FROM node:18 AS b\nLABEL maintainer "A B"\nFROM node:18-slim\n')
    assert [i.line for i in build_stage_labels(legacy, "maintainer")] == [2]


def _tree(root: Path, files: dict[str, int]) -> None:
    for rel, size in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)


def test_context_heavy_folders_and_what_dominates(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "Dockerfile": 40,
            "app.js": 300,
            "node_modules/express/index.js": 5_000,
            "node_modules/express/node_modules/qs/index.js": 2_000,
            ".git/objects/ab/cd": 1_000,
            "env/pyvenv.cfg": 10,
            "env/lib/site.py": 700,
            "data/dump.sql": 2_000_000,
        },
    )
    sub = load_submission(tmp_path)
    ctx = context_facts(sub)
    assert ctx.has_dockerignore is False
    assert ctx.total_bytes == 2_009_050 and ctx.files == 8
    assert [e.path for e in ctx.top[:2]] == ["data", "node_modules"]
    heavy = heavy_entries(ctx, HEAVY, 1_000_000)
    assert [(e.path, e.bytes) for e in heavy] == [
        ("data/dump.sql", 2_000_000),
        ("node_modules", 7_000),
        (".git", 1_000),
        ("env", 710),
    ]


def test_context_respects_the_dockerignore(tmp_path: Path) -> None:
    _tree(tmp_path, {"Dockerfile": 40, "index.js": 10, "node_modules/a/index.js": 5_000})
    (tmp_path / ".dockerignore").write_text("node_modules\n", encoding="utf-8")
    ctx = context_facts(load_submission(tmp_path))
    assert ctx.has_dockerignore is True
    assert heavy_entries(ctx, HEAVY, 1_000_000) == []
    assert "node_modules" not in {e.path for e in ctx.entries}


def test_measure_counts_only_what_is_listed(tmp_path: Path) -> None:
    _tree(tmp_path, {"a/b.txt": 10, "c.txt": 5})
    ctx = measure(tmp_path, ["a", "a/b.txt"], False)
    assert ctx.total_bytes == 10 and ctx.files == 1


def test_size_text() -> None:
    assert [size_text(n) for n in (812, 14_200, 183_000_000)] == ["812 B", "14.2 kB", "183.0 MB"]


def test_a_lab_file_can_make_a_diagnosis_scored(tmp_path: Path) -> None:
    lab = tmp_path / "lab.toml"
    lab.write_text(
        'schema_version = 1\nid = "strict"\ntitle = "t"\nlang = "en"\n'
        '[checks."dockerfile.lint"]\npoints = 2\nfailure_threshold = "info"\nignored = ["DL3008"]\n'
        '[checks."image.healthcheck"]\npoints = 1\nmode = "advice"\n',
        encoding="utf-8",
    )
    spec = load_lab_file(lab)
    lint, health = spec.check("dockerfile.lint"), spec.check("image.healthcheck")
    assert lint is not None and health is not None
    assert lint.mode == "scored" and lint.max_score == 2
    assert lint.params.failure_threshold == "info" and lint.params.ignored == ["DL3008"]
    assert health.max_score == 0


def test_secret_values_are_masked_in_a_build_log() -> None:
    log = (
        'Step 3/17 : ENV SECRET_KEY="a3f9c2e17b5d4e08" APP_ENV=prod\n'
        " ---> Running in 0c1d\n"
        "Step 4/17 : ARG DB_PASSWORD hunter2\n"
        "Step 5/17 : RUN echo GITHUB_TOKEN=ghp_abcdef PATH=/usr/bin\n"
    )
    masked = mask_secret_values(log, NAMES, [])
    for value in ("a3f9c2e17b5d4e08", "hunter2", "ghp_abcdef"):
        assert value not in masked
    assert "ENV SECRET_KEY=****** APP_ENV=prod" in masked
    assert "ARG DB_PASSWORD ******" in masked and "PATH=/usr/bin" in masked
    assert mask_secret_values("Step 1/2 : FROM python:3.11-slim\n", NAMES, []).endswith("slim\n")

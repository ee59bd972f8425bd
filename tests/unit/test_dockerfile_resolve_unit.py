"""grader/dockerfile/resolve.py and the checks that read a Dockerfile through it (issue 16.1):
correct Dockerfiles of unusual shapes score, the student's mistakes still fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks.test_dockerfile import (
    test_base_image as base_image_check,
)
from checks.test_dockerfile import (
    test_npm_ci as npm_ci_check,
)
from checks.test_dockerfile import (
    test_package_json_first as package_json_first_check,
)
from checks.test_dockerfile import (
    test_production_deps as production_deps_check,
)
from checks.test_dockerfile import (
    test_requirements_first as requirements_first_check,
)
from checks.test_dockerfile import (
    test_stages as stages_check,
)
from checks.test_dockerfile import (
    test_workdir as workdir_check,
)
from checks.test_image import test_entrypoint_exec_form as exec_form_check
from checks.test_image import test_user_non_root as user_check
from grader.dockerfile.parse import parse_text
from grader.dockerfile.resolve import (
    base_image,
    brings,
    brings_other_than,
    installs,
    installs_manifest,
    lineage,
    resolve_from,
    substitute,
)
from grader.facts import DockerfileFacts, ImageFacts, Submission
from grader.grading.rubric import Grade
from grader.labs.spec import load_lab
from grader.stages import cache_probe

TP6 = load_lab("tp6")
TP6BIS = load_lab("tp6bis")


def parse(text: str) -> DockerfileFacts:
    return parse_text(text, Path("Dockerfile"))


def grade(lab_check: str, lab: object = TP6) -> Grade:
    spec = lab.check(lab_check)  # type: ignore[attr-defined]
    assert spec is not None
    return Grade(lab_check, spec.params, "en", None)


def submission(tmp_path: Path, *names: str) -> Submission:
    for name in names:
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    return Submission("s", tmp_path, tmp_path / "Dockerfile", True, "0")


def passes(check: object, *args: object) -> bool:
    try:
        check(*args)  # type: ignore[operator]
    except pytest.fail.Exception:
        return False
    return True


def message(check: object, *args: object) -> str:
    with pytest.raises(pytest.fail.Exception) as failed:
        check(*args)  # type: ignore[operator]
    return str(failed.value)


# -- FROM ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        ("${BASE}", {"BASE": "python:3.11-slim"}, "python:3.11-slim"),
        ("$BASE", {"BASE": "python:3.11-slim"}, "python:3.11-slim"),
        ("python:${V:-3.11}-slim", {"V": None}, "python:3.11-slim"),
        ("python:${V:-3.11}-slim", {}, "python:3.11-slim"),
        ("python:${V:-3.11}-slim", {"V": "3.12"}, "python:3.12-slim"),
        ("python:${V}", {"V": None}, None),
        ("python:3.11${V:+-$V}", {"V": "slim"}, "python:3.11-slim"),
        ("python:3.11${V:+-x}", {}, "python:3.11"),
        ("python:${V-3.11}", {"V": ""}, "python:"),
    ],
)
def test_build_arguments_are_substituted(
    text: str, args: dict[str, str | None], expected: str | None
) -> None:
    assert substitute(text, args) == expected


def test_an_arg_base_image_is_the_official_image() -> None:
    facts = parse("ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nCMD x\n")
    final = facts.final_stage
    assert final is not None
    assert base_image(facts, final) == "python:3.11-slim"
    assert passes(base_image_check, facts, grade("dockerfile.base_image"))
    wrong = parse("ARG BASE_IMAGE=node:18\nFROM ${BASE_IMAGE}\n")
    assert "node:18" in message(base_image_check, wrong, grade("dockerfile.base_image"))


def test_stage_aliases_are_compared_without_case_and_only_when_defined_earlier() -> None:
    facts = parse("FROM python:3.11-slim AS Base\nRUN true\nFROM base\nCMD x\n")
    final = facts.final_stage
    assert final is not None
    assert [s.index for s in lineage(facts, final)] == [1, 0]
    assert passes(base_image_check, facts, grade("dockerfile.base_image"))
    later = parse("FROM build\nFROM python:3.11 AS build\n")
    assert resolve_from(later, later.stages[0]).parent is None


def test_a_final_stage_built_from_the_build_stage_in_another_case_is_seen() -> None:
    facts = parse("FROM node:18 AS Build\nRUN npm ci\nFROM BUILD\nCMD x\n")
    text = message(stages_check, facts, grade("dockerfile.stages", TP6BIS))
    assert "The final stage starts FROM Build" in text


# -- installs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "tool", "manifest"),
    [
        ("RUN npm install", "npm", "package.json"),
        ("RUN cd /app && npm i", "npm", "package.json"),
        ('RUN ["npm", "ci"]', "npm", "package.json"),
        ('RUN ["/bin/sh", "-c", "npm ci --omit=dev"]', "npm", "package.json"),
        ('RUN ["bash", "-lc", "cd /app && npm ci"]', "npm", "package.json"),
        ("RUN npm install -g nodemon", "npm", None),
        ("RUN pip install -r requirements.txt", "pip", "requirements.txt"),
        ("RUN pip3 install --no-cache-dir -rrequirements.txt", "pip", "requirements.txt"),
        ("RUN python -m pip install --requirement=reqs.txt", "pip", "reqs.txt"),
        ("RUN pip install --upgrade pip", "pip", None),
        ("RUN PIP_NO_CACHE_DIR=1 /usr/local/bin/pip install -r r.txt", "pip", "r.txt"),
    ],
)
def test_installs_are_read_anywhere_in_a_run(run: str, tool: str, manifest: str | None) -> None:
    ins = parse(f"FROM x\n{run}\n").instructions[1]
    found = installs(ins)
    assert [(i.tool, i.manifest) for i in found] == [(tool, manifest)]
    assert installs_manifest(ins) is (manifest is not None)


def test_echo_of_an_install_command_is_not_an_install() -> None:
    ins = parse('FROM x\nRUN echo "npm install"\n').instructions[1]
    assert installs(ins) == ()


def test_the_layer_cache_probe_sees_an_exec_form_install() -> None:
    facts = parse('FROM node:18\nCOPY package.json .\nRUN ["npm", "ci"]\nCOPY . .\n')
    matcher = cache_probe.install_matcher([])
    kept = cache_probe.kept_instructions(facts, matcher)
    assert kept is not None
    assert [i.keyword for i in kept] == ["FROM", "COPY", "RUN"]


# -- COPY sources ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "filename", "expected"),
    [
        ("COPY package*.json ./", "package.json", True),
        ("COPY package*.json ./", "package-lock.json", True),
        ('COPY ["package.json", "package-lock.json", "./"]', "package.json", True),
        ("COPY [r]equirements.txt .", "requirements.txt", True),
        ("COPY --from=deps package.json .", "package.json", False),
        ("COPY . .", "index.js", True),
    ],
)
def test_copy_sources_match_as_docker_matches_them(
    line: str, filename: str, expected: bool
) -> None:
    assert brings(parse(f"FROM x\n{line}\n").instructions[1], filename) is expected


def test_a_manifest_glob_is_not_code_unless_it_matches_code() -> None:
    deps = ["package.json", "package-lock.json"]
    ins = parse("FROM x\nCOPY package*.json ./\n").instructions[1]
    assert not brings_other_than(ins, deps)
    assert not brings_other_than(ins, deps, ["index.js", "package.json", "package-lock.json"])
    wide = parse("FROM x\nCOPY *.json ./\n").instructions[1]
    assert brings_other_than(wide, deps, ["package.json", "tsconfig.json"])


# -- the checks: correct shapes score ----------------------------------------------------------

NODE_GUIDE = """\
FROM node:18 AS build
WORKDIR /usr/src/app
COPY package*.json ./
RUN npm install
COPY . .
RUN npm test
FROM node:18-slim
WORKDIR /usr/src/app
COPY package*.json ./
RUN npm ci --omit=dev
COPY --from=build /usr/src/app/index.js ./
CMD ["node", "index.js"]
"""


def test_the_node_docker_guide_order_passes_package_json_first(tmp_path: Path) -> None:
    sub = submission(tmp_path, "package.json", "package-lock.json", "index.js")
    check = grade("dockerfile.package_json_first", TP6BIS)
    assert passes(package_json_first_check, parse(NODE_GUIDE), sub, check)
    code_first = NODE_GUIDE.replace(
        "COPY package*.json ./\nRUN npm install\nCOPY . .", "COPY . .\nRUN npm install"
    )
    text = message(package_json_first_check, parse(code_first), sub, check)
    assert "The code is copied (line 3) before the modules are installed" in text


REQS = "COPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n"


def test_a_bare_base_stage_first_is_not_the_build_stage(tmp_path: Path) -> None:
    sub = submission(tmp_path, "package.json", "package-lock.json", "index.js")
    text = "FROM node:18 AS base\nWORKDIR /app\nFROM base AS build\nCOPY package*.json ./\n"
    text += "RUN npm ci\nCOPY . .\nRUN npm test\nFROM node:18-slim\nCMD x\n"
    check = grade("dockerfile.package_json_first", TP6BIS)
    assert passes(package_json_first_check, parse(text), sub, check)
    wrong = text.replace("COPY package*.json ./\nRUN npm ci\nCOPY . .", "COPY . .\nRUN npm ci")
    assert not passes(package_json_first_check, parse(wrong), sub, check)


def test_upgrading_pip_first_is_not_the_install_of_the_requirements(tmp_path: Path) -> None:
    sub = submission(tmp_path, "requirements.txt", "app.py")
    text = "FROM python:3.11-slim\nWORKDIR /app\nRUN pip install --upgrade pip\n" + REQS
    check = grade("dockerfile.requirements_first")
    assert passes(requirements_first_check, parse(text), sub, check)
    wrong = "FROM python:3.11-slim\nRUN pip install --upgrade pip\nCOPY . .\n"
    wrong += "RUN pip install -r requirements.txt\n"
    assert not passes(requirements_first_check, parse(wrong), sub, check)


def test_a_builder_stage_that_installs_the_requirements_passes(tmp_path: Path) -> None:
    sub = submission(tmp_path, "requirements.txt", "app.py")
    text = "FROM python:3.11-slim AS builder\nWORKDIR /app\n" + REQS.replace(
        "pip install", "pip install --prefix=/install"
    ).replace("COPY . .\n", "")
    text += "FROM python:3.11-slim\nCOPY --from=builder /install /usr/local\nWORKDIR /app\n"
    text += 'COPY . .\nENTRYPOINT ["gunicorn"]\n'
    assert passes(
        requirements_first_check, parse(text), sub, grade("dockerfile.requirements_first")
    )


def test_an_inherited_workdir_counts() -> None:
    text = "FROM python:3.11-slim AS base\nWORKDIR /app\nFROM base\nCOPY . .\n"
    assert passes(workdir_check, parse(text), grade("dockerfile.workdir"))
    root = "FROM python:3.11-slim AS base\nWORKDIR /\nFROM base\nCOPY . .\n"
    assert not passes(workdir_check, parse(root), grade("dockerfile.workdir"))


DEPS_STAGE = """\
FROM node:18 AS deps
WORKDIR /app
COPY package*.json ./
RUN npm ci --omit=dev
FROM node:18 AS build
WORKDIR /app
COPY package*.json ./
RUN npm ci
COPY . .
RUN npm test
FROM node:18-slim
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/index.js ./
CMD ["node", "index.js"]
"""


def test_production_modules_copied_from_a_deps_stage_pass() -> None:
    check = grade("dockerfile.production_deps", TP6BIS)
    assert passes(production_deps_check, parse(DEPS_STAGE), check)
    full = DEPS_STAGE.replace("--from=deps /app/node_modules", "--from=build /app/node_modules")
    assert "npm ci" in message(production_deps_check, parse(full), check)


def test_npm_i_at_the_end_of_a_line_is_the_install(tmp_path: Path) -> None:
    sub = submission(tmp_path, "package.json", "package-lock.json", "index.js")
    facts = parse("FROM node:18\nWORKDIR /app\nCOPY package*.json ./\nRUN npm i\nCOPY . .\n")
    check = grade("dockerfile.package_json_first", TP6BIS)
    assert passes(package_json_first_check, facts, sub, check)
    lockfile = grade("dockerfile.npm_ci", TP6BIS)
    assert "npm install is used" in message(npm_ci_check, facts, sub, lockfile)


# -- ENTRYPOINT form and users -----------------------------------------------------------------


def image(
    entrypoint: tuple[str, ...] | None, cmd: tuple[str, ...] | None = None, user: str = "1000"
) -> ImageFacts:
    uid = int(user) if user.isdigit() else None
    return ImageFacts("sha256:x", {}, user, uid, frozenset(), entrypoint, cmd, "/app", {}, 1, 1)


def test_a_custom_shell_does_not_hide_a_shell_form_entrypoint() -> None:
    facts = parse('FROM python:3.11-slim\nSHELL ["/bin/bash", "-c"]\nENTRYPOINT gunicorn app:app\n')
    check = grade("image.entrypoint_exec_form")
    text = message(exec_form_check, image(("/bin/bash", "-c", "gunicorn app:app")), facts, check)
    assert "/bin/bash -c" in text
    assert '["gunicorn", "app:app"]' in text


def test_an_exec_form_shell_that_execs_the_app_is_accepted() -> None:
    command = ("/bin/sh", "-c", "exec gunicorn --config config.py app:app")
    facts = parse(f"FROM python:3.11-slim\nENTRYPOINT {json.dumps(list(command))}\n")
    check = grade("image.entrypoint_exec_form")
    assert passes(exec_form_check, image(command), facts, check)
    child = ("/bin/sh", "-c", "gunicorn --config 'my config.py' app:app")
    facts = parse(f"FROM python:3.11-slim\nENTRYPOINT {json.dumps(list(child))}\n")
    text = message(exec_form_check, image(child), facts, check)
    fix = text.split("Write ENTRYPOINT ", 1)[1].split(", or start", 1)[0]
    assert json.loads(fix) == ["gunicorn", "--config", "my config.py", "app:app"]


def test_the_suggested_fix_is_valid_json_for_a_quoted_shell_form() -> None:
    facts = parse('FROM python:3.11-slim\nENTRYPOINT gunicorn --bind "0.0.0.0:8000" app:app\n')
    shell = ("/bin/sh", "-c", 'gunicorn --bind "0.0.0.0:8000" app:app')
    text = message(exec_form_check, image(shell), facts, grade("image.entrypoint_exec_form"))
    fix = text.split("Write ENTRYPOINT as a JSON list, ENTRYPOINT ", 1)[1].split(": the app", 1)[0]
    assert json.loads(fix) == ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]


def test_a_system_user_is_called_a_system_user() -> None:
    facts = parse("FROM python:3.7-alpine\nRUN adduser -S app\nUSER app\n")
    system = ImageFacts("sha256:x", {}, "app", 100, frozenset(), None, None, "/", {}, 1, 1)
    text = message(user_check, system, None, facts, grade("image.user_non_root"))
    assert "system user" in text

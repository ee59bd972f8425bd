"""BuildKit's plain progress read, BuildKit-only syntax found, the builder chosen and named."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from grader.dockerfile.builder_syntax import buildkit_features, needed_stages, unused_stage_at
from grader.dockerfile.parse import parse_text
from grader.engine import BuildOutcome, Engine
from grader.engine.bounds import BuildLimits
from grader.engine.buildkit import buildx_build, buildx_command, error_line, offers_buildkit
from grader.errors import (
    BuildFailed,
    ClassicBuilderCannot,
    EngineError,
    LabFileError,
    RegistryUnreachable,
)
from grader.facts import DockerfileFacts
from grader.facts.logcap import CappedText
from grader.facts.results import Status
from grader.grading.settings import Options, Settings
from grader.grading.verdicts import error_cause, stage_feedback
from grader.labs.spec import load_lab, load_lab_file
from grader.stages import build, buildkit_log
from grader.stages.cache_probe import buildkit_step_facts, install_matcher

# Excerpts of real `docker buildx build --progress=plain` output (Engine 26.1, buildx 0.13.1).
CACHED_REBUILD = """\
#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 732B done
#1 DONE 0.0s

#5 [1/7] FROM docker.io/library/python:3.11-slim
#5 DONE 0.0s

#6 [2/7] WORKDIR /app
#6 CACHED

#7 [3/7] COPY requirements.txt .
#7 CACHED

#8 [4/7] RUN pip install --no-cache-dir -r requirements.txt
#8 CACHED

#9 [5/7] COPY app.py .
#9 DONE 0.0s

#10 [6/7] COPY config.py .
#10 DONE 0.0s

#11 [7/7] RUN useradd --uid 1000 --no-create-home my-user
#11 DONE 0.2s
"""
HEREDOC_FAILURE = """\
#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s

#4 [base 1/2] FROM docker.io/library/python:3.11-slim
#4 CACHED

#5 [base 2/2] RUN echo hi
#5 0.171 hi
#5 DONE 0.2s

#6 [stage-1 1/2] WORKDIR /x
#6 DONE 0.0s

#7 [stage-1 2/2] RUN <<EOT (echo one...)
#7 0.165 one
#7 ERROR: process "/bin/sh -c echo one\\nexit 3\\n" did not complete successfully: exit code: 3
------
 > [stage-1 2/2] RUN <<EOT (echo one...):
0.165 one
------
Dockerfile:6
--------------------
   5 |     WORKDIR /x
   6 | >>> RUN <<EOT
   7 | >>> echo one
   8 | >>> exit 3
   9 | >>> EOT
  10 |
--------------------
ERROR: failed to solve: process "/bin/sh -c echo one\\nexit 3\\n" did not complete \
successfully: exit code: 3
"""
HEREDOC_DOCKERFILE = """\
FROM python:3.11-slim AS base
RUN echo hi
FROM base
ENV A=1
WORKDIR /x
RUN <<EOT
echo one
exit 3
EOT
CMD ["python3"]
"""
TP6_OK = Path(__file__).parents[2] / "submissions" / "tp6-ok" / "Dockerfile"


def _facts(text: str) -> DockerfileFacts:
    return parse_text(text, Path("Dockerfile"))


def test_steps_cached_and_timed_as_buildkit_reports_them() -> None:
    steps = buildkit_log.steps(CACHED_REBUILD)
    assert [(s.number, s.cached) for s in steps] == [
        (1, False), (2, True), (3, True), (4, True), (5, False), (6, False), (7, False),
    ]  # fmt: skip
    assert steps[-1].text == "RUN useradd --uid 1000 --no-create-home my-user"
    assert steps[-1].seconds == 0.2 and steps[0].stage is None


def test_the_layer_cache_probe_maps_buildkit_steps_to_the_student_lines() -> None:
    facts = _facts(TP6_OK.read_text(encoding="utf-8"))
    kept = [i for i in facts.instructions if i.line <= 11]
    found = buildkit_step_facts(CACHED_REBUILD, kept, install_matcher(["pip install"]))
    assert [(s.line, s.cached, s.installs) for s in found] == [
        (5, True, False), (8, True, False), (11, True, True),
    ]  # fmt: skip


def test_stage_ops_skip_stage_references_scratch_and_metadata_instructions() -> None:
    facts = _facts(
        "ARG BASE=python:3.11-slim\nFROM ${BASE} AS deps\nENV X=1\nRUN echo deps > /deps\n"
        "FROM scratch AS empty\nCOPY --from=deps /deps /deps\nFROM deps\nWORKDIR /app\n"
        "COPY --from=empty /deps /app/deps\nRUN --mount=type=cache,target=/c cat /app/deps\n"
    )
    ops = buildkit_log.stage_ops(facts.instructions)
    # what BuildKit printed for this very file: [deps 1/2] FROM, [deps 2/2] RUN,
    # [empty 1/1] COPY, [stage-2 1/3] WORKDIR, [stage-2 2/3] COPY, [stage-2 3/3] RUN
    assert {key: ins.line for key, ins in ops.items()} == {
        ("deps", 1): 2, ("deps", 2): 4, ("empty", 1): 6,
        ("stage-2", 1): 8, ("stage-2", 2): 9, ("stage-2", 3): 10,
    }  # fmt: skip


def test_a_buildkit_failure_names_the_instruction_and_its_line() -> None:
    facts = _facts(HEREDOC_DOCKERFILE)
    assert build.failing_step(HEREDOC_FAILURE, facts) == ("RUN <<EOT (echo one...)", 6)
    assert error_line(HEREDOC_FAILURE.splitlines()) == (
        'failed to solve: process "/bin/sh -c echo one\\nexit 3\\n" did not complete '
        "successfully: exit code: 3"
    )


def test_a_parse_error_takes_the_instruction_from_the_dockerfile() -> None:
    log = (
        '#0 building with "default" instance using docker driver\n#1 [internal] load build '
        "definition from Dockerfile\n#1 DONE 0.0s\nDockerfile:2\n--------------------\n"
        "   2 | >>> COPPY app.py .\n--------------------\nERROR: failed to solve: dockerfile "
        "parse error on line 2: unknown instruction: COPPY (did you mean COPY?)\n"
    )
    facts = _facts("FROM python:3.11-slim\nCOPPY app.py .\n")
    assert build.failing_step(log, facts) == ("COPPY app.py .", 2)


def test_classic_logs_are_still_read_as_before() -> None:
    log = "Step 1/2 : FROM python:3.11-slim\n ---> abc\nStep 2/2 : COPPY a .\n"
    assert not buildkit_log.is_buildkit_log(log)
    assert buildkit_log.is_buildkit_log(CACHED_REBUILD)


def test_heredocs_parse_as_one_instruction_with_the_right_lines() -> None:
    facts = _facts(HEREDOC_DOCKERFILE + "COPY <<-EOF /etc/motd\n\thello\n\tEOF\nUSER 1000\n")
    lines = [(i.line, i.keyword) for i in facts.instructions]
    assert lines == [
        (1, "FROM"), (2, "RUN"), (3, "FROM"), (4, "ENV"), (5, "WORKDIR"), (6, "RUN"),
        (10, "CMD"), (11, "COPY"), (14, "USER"),
    ]  # fmt: skip
    heredoc = facts.instructions[5]
    assert heredoc.value == "<<EOT\necho one\nexit 3\nEOT"
    assert buildkit_features(facts) == ("RUN <<heredoc (line 6)", "COPY <<heredoc (line 11)")


def test_buildkit_only_flags_are_found_and_plain_files_have_none() -> None:
    facts = _facts(
        "FROM python:3.11-slim\nCOPY --chmod=644 requirements.txt .\n"
        "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n"
        "COPY --from=build --link /a /b\n"
    )
    assert buildkit_features(facts) == (
        "COPY --chmod (line 2)", "RUN --mount (line 3)", "COPY --link (line 4)",
    )  # fmt: skip
    assert buildkit_features(_facts(TP6_OK.read_text(encoding="utf-8"))) == ()


def test_stages_the_final_image_does_not_need() -> None:
    facts = _facts(
        "FROM node:18 AS build\nRUN npm ci\nFROM node:18 AS experiments\nRUN npm run x\n"
        "FROM build AS tested\nRUN npm test\nFROM node:18-slim\n"
        "COPY --from=tested /app /app\n"
    )
    assert needed_stages(facts) == {0, 2, 3}
    assert unused_stage_at(facts, 4) == ("experiments", 3)
    assert unused_stage_at(facts, 2) is None and unused_stage_at(facts, None) is None


def test_the_buildx_command_line() -> None:
    labels = {"org.docker-lab-grader.run": "r1", "org.docker-lab-grader.owner": "h:1"}
    labels["org.docker-lab-grader.submission"] = "alice"
    command = buildx_command(
        "docker", Path("/s"), "Dockerfile", labels, Path("/t/m.json"), "build", "/grader-x",
        "docker-lab-grader-build:127.0.0.9",
    )  # fmt: skip
    assert command == [
        "docker", "buildx", "build", "--progress=plain", "--load",
        "--metadata-file", "/t/m.json", "--file", "/s/Dockerfile",
        "--label", "org.docker-lab-grader=r1@h:1",
        "--label", "org.docker-lab-grader.submission=alice",
        "--target", "build", "--cgroup-parent", "/grader-x",
        "--add-host", "docker-lab-grader-build:127.0.0.9", "/s",
    ]  # fmt: skip
    plain = buildx_command("docker", Path("/s"), "/tmp/cut", {}, Path("/m"))
    assert plain[-3:] == ["--file", "/tmp/cut", "/s"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_classic_builder_limit_is_an_error_of_the_tool(lang: str) -> None:
    exc = ClassicBuilderCannot(("RUN --mount (line 12)",), ("experiments", 10))
    status, fb = stage_feedback(exc, lang)
    assert status is Status.ERROR and error_cause(exc) == "tool"
    assert "RUN --mount (line 12)" in fb.summary and "experiments" in fb.summary
    assert "BuildKit" in fb.fix


def test_the_builder_comes_from_the_flag_then_the_lab(tmp_path: Path) -> None:
    lab = load_lab("tp6")
    assert lab.builder == "auto"
    assert Settings.resolve(Options(), lab).builder == "auto"
    assert Settings.resolve(Options(builder="classic"), lab).builder == "classic"
    source = lab.source.read_text(encoding="utf-8")
    path = tmp_path / "lab.toml"
    path.write_text(source.replace('builder = "auto"', 'builder = "classic"'), "utf-8")
    assert load_lab_file(path).builder == "classic"
    path.write_text(source.replace('builder = "auto"', 'builder = "kaniko"'), "utf-8")
    with pytest.raises(LabFileError, match="builder"):
        load_lab_file(path)


def test_a_cli_that_reaches_no_engine_is_the_engine_s_fault(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
    url = f"unix://{tmp_path}/no-engine.sock"
    with pytest.raises(EngineError, match="Cannot connect"):
        buildx_build(url, tmp_path, "Dockerfile", {}, 60, CappedText(10_000))
    assert not offers_buildkit(url)


def test_a_lone_stage_named_because_of_a_mount_still_maps() -> None:
    facts = _facts(
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY --chmod=644 requirements.txt .\n"
        "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n"
    )
    # what BuildKit printed for this very file: a RUN --mount names the only stage stage-0
    log = (
        '#0 building with "default" instance using docker driver\n'
        "#4 [stage-0 1/4] FROM docker.io/library/python:3.11-slim\n#4 DONE 0.0s\n"
        "#6 [stage-0 2/4] WORKDIR /app\n#6 CACHED\n"
        "#7 [stage-0 3/4] COPY --chmod=644 requirements.txt .\n#7 CACHED\n"
        "#8 [stage-0 4/4] RUN --mount=type=cache,target=/root/.cache/pip pip install -r "
        "requirements.txt\n#8 CACHED\n"
    )
    found = buildkit_step_facts(log, list(facts.instructions), install_matcher(["pip install"]))
    assert [(s.line, s.cached, s.installs) for s in found] == [
        (2, True, False), (3, True, False), (4, True, True),
    ]  # fmt: skip


NO_ENGINE = cast(Engine, None)
"""A failed build's verdict never asks the engine (only a built image's size does)."""
BOUNDS = build.Bounds(BuildLimits())


def test_a_syntax_frontend_no_registry_serves_is_not_the_student_s_failure() -> None:
    # what BuildKit said on this offline machine for "# syntax=docker/dockerfile:1"
    error = (
        "failed to solve: failed to resolve source metadata for docker.io/docker/dockerfile:1: "
        'failed to do request: Head "https://registry-1.docker.io/v2/docker/dockerfile/'
        'manifests/1": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host'
    )
    outcome = BuildOutcome(None, "#0 building\n", error, 1.0, builder="buildkit")
    with pytest.raises(RegistryUnreachable) as offline:
        build.checked(NO_ENGINE, outcome, None, BOUNDS)
    assert offline.value.registry == "docker.io" and error_cause(offline.value) == "registry"
    missing = (
        "failed to solve: failed to resolve source metadata for docker.io/docker/dockerfile:9: "
        "not found"
    )
    with pytest.raises(BuildFailed):  # a frontend that does not exist: the student's line
        failed = BuildOutcome(None, "#0 building\n", missing, 1.0, builder="buildkit")
        build.checked(NO_ENGINE, failed, None, BOUNDS)

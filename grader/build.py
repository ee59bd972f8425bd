"""Build a submission's image: ``build_image`` -> BuildResult, or BuildFailed / BuildTimedOut."""

from __future__ import annotations

import dataclasses
import logging
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from grader import buildkit_log
from grader.builder_syntax import buildkit_features, unused_stage_at
from grader.dockerfile import instruction_for_step
from grader.engine import BuildOutcome, Engine
from grader.errors import (
    BuildFailed,
    ClassicBuilderCannot,
    RegistryUnreachable,
    SubmissionRejected,
)
from grader.facts import BuildResult, DockerfileFacts, Submission
from grader.submission import safe_file

log = logging.getLogger(__name__)

STEP = re.compile(r"^Step (\d+)/\d+ : (.*)$", re.MULTILINE)
"""The classic builder announces each instruction as ``Step N/M : INSTRUCTION``."""
STEP_ID = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")
"""The classic builder closes each step with `` ---> <image id>``."""
PARSE_ERROR_LINE = re.compile(r"\bline (\d+)\b")
FRONTEND_UNREACHABLE = re.compile(
    r"failed to resolve source metadata for ((?:[^/\s]+/)?[^\s:]*dockerfile[^\s:]*)\S*: "
    r".*(failed to do request|dial tcp|no such host|i/o timeout|connection refused)"
)
"""BuildKit could not fetch the Dockerfile frontend a ``# syntax=`` line names: no registry
answered (an offline grader), not the student's mistake."""
"""A Dockerfile the builder refuses outright names the line: ``parse error line 14: ...``."""


def failing_step(build_log: str, facts: DockerfileFacts | None) -> tuple[str | None, int | None]:
    """The last step the builder announced and its Dockerfile line, when known (either
    builder's log)."""
    steps = STEP.findall(build_log)
    if not steps and buildkit_log.is_buildkit_log(build_log):
        step, line = buildkit_log.failure(build_log)
        if line is None and (parse := PARSE_ERROR_LINE.search(build_log)) is not None:
            line = int(parse.group(1))
        ins = next((i for i in facts.instructions if i.line == line), None) if facts else None
        return step or (f"{ins.keyword} {ins.value}" if ins else None), line
    if not steps:
        match = PARSE_ERROR_LINE.search(build_log)
        if match is None:
            return None, None
        line = int(match.group(1))
        ins = next((i for i in facts.instructions if i.line == line), None) if facts else None
        return (f"{ins.keyword} {ins.value}" if ins else None), line
    number, text = steps[-1]
    ins = instruction_for_step(facts, int(number)) if facts else None
    return text.strip(), ins.line if ins else None


def ignore_patterns(root: Path) -> list[str]:
    """The ``.dockerignore`` patterns of a submission (read only when inside it)."""
    path = safe_file(root, ".dockerignore")
    if path is None:
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def check_context(engine: Engine, submission: Submission, dockerfile: str, limit: int) -> None:
    """Refuse a build context larger than ``limit`` bytes before sending anything.

    Raises:
        SubmissionRejected: the context is too large.
    """
    size = engine.context_size(submission.root, dockerfile, ignore_patterns(submission.root))
    if size > limit:
        raise SubmissionRejected(
            f"the build context is {size / 1e6:.0f} MB, more than the {limit / 1e6:.0f} MB "
            "allowed: add a .dockerignore (node_modules, .git, data files)"
        )


def build_image(
    engine: Engine,
    submission: Submission,
    facts: DockerfileFacts | None,
    labels: Mapping[str, str],
    timeout_s: float,
    log_limit: int,
    context_limit: int = 100_000_000,
    on_sent: Callable[[], None] = lambda: None,
    *,
    builder: str = "auto",
    cgroup_parent: str | None = None,
) -> BuildResult:
    """Build the submission's Dockerfile with its folder as context (``on_sent``, ``builder``
    and ``cgroup_parent``: see ``Engine.build``).

    Raises:
        SubmissionRejected: the build context is larger than ``context_limit``.
        BuildFailed: the builder reported an error (a student's mistake).
        ClassicBuilderCannot: the classic builder cannot build what BuildKit would.
        BuildTimedOut: the build took longer than ``timeout_s``.
        EngineError: the engine itself failed.
    """
    assert submission.dockerfile is not None
    dockerfile = str(submission.dockerfile.relative_to(submission.root))
    check_context(engine, submission, dockerfile, context_limit)
    chosen = engine.builder_for(builder)
    if chosen == "classic" and facts is not None and (needs := buildkit_features(facts)):
        raise ClassicBuilderCannot(needs)
    outcome = engine.build(
        submission.root, dockerfile, labels, timeout_s, log_limit, on_sent=on_sent,
        builder=chosen, cgroup_parent=cgroup_parent,
    )  # fmt: skip
    result = built_or_failed(outcome, facts)
    log.info("built %s in %.1f s (%s)", submission.name, outcome.seconds, outcome.builder)
    return result


def built_or_failed(outcome: BuildOutcome, facts: DockerfileFacts | None) -> BuildResult:
    """The build's result, or why it failed.

    Raises:
        BuildFailed: the student's Dockerfile failed.
        ClassicBuilderCannot: the classic builder failed in a stage BuildKit would skip.
        RegistryUnreachable: the ``# syntax=`` frontend could not be fetched.
    """
    if outcome.image_id is None:
        error = outcome.error or "the builder produced no image"
        if (offline := FRONTEND_UNREACHABLE.search(error)) is not None:
            image = offline.group(1)
            registry = image.split("/")[0] if image.count("/") >= 2 else "docker.io"
            raise RegistryUnreachable(registry, error)
        step, line = failing_step(outcome.log, facts)
        unused = unused_stage_at(facts, line) if facts and outcome.builder == "classic" else None
        if unused is not None:
            raise ClassicBuilderCannot((), unused)
        raise BuildFailed(error, outcome.log, step, line)
    return BuildResult(outcome.image_id, outcome.log, outcome.seconds, outcome.builder)


SINGLE_NAME = "Dockerfile.single"
"""A student's own single-stage Dockerfile, for the size comparison."""


def first_stage_text(facts: DockerfileFacts) -> str | None:
    """The Dockerfile cut before its second FROM: the build stage alone (None if one stage)."""
    if len(facts.stages) < 2:
        return None
    raw = facts.path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")
    lines = raw.replace("\r\n", "\n").split("\n")
    second_from = facts.stages[1].instructions[0].line
    return "\n".join(lines[: second_from - 1]) + "\n"


def stage_image_id(build_log: str, stage: int = 0) -> str | None:
    """The image the classic builder made for stage ``stage`` (pure): the id closing the step
    just before the ``FROM`` of the next stage; None when the log does not show it (a single
    stage, or lines cut from a long log)."""
    step, froms = 0, 0
    closed: tuple[int, str] | None = None
    for line in build_log.splitlines():
        header = STEP.match(line)
        if header is not None:
            number = int(header.group(1))
            if (header.group(2).split() or [""])[0].upper() == "FROM":
                froms += 1
                if froms == stage + 2:
                    return closed[1] if closed and closed[0] == number - 1 else None
            step, closed = number, None
            continue
        found = STEP_ID.match(line)
        if found is not None and step:
            closed = (step, found.group(1))
    return None


def build_single_stage(
    engine: Engine,
    submission: Submission,
    facts: DockerfileFacts,
    labels: Mapping[str, str],
    timeout_s: float,
    log_limit: int,
    *,
    builder: str = "auto",
    cgroup_parent: str | None = None,
) -> tuple[BuildResult, str] | None:
    """Build the same app without multi-staging; returns the build and where it came from.
    With BuildKit, a named build stage is built alone (``--target``), from the cache the
    main build filled; otherwise the Dockerfile is cut before its second FROM.

    Raises:
        BuildFailed, BuildTimedOut, EngineError.
    """
    own = safe_file(submission.root, SINGLE_NAME)
    if own is not None:
        single = dataclasses.replace(submission, dockerfile=own)
        args = (engine, single, None, labels, timeout_s, log_limit)
        built = build_image(*args, builder=builder, cgroup_parent=cgroup_parent)
        return built, SINGLE_NAME
    text = first_stage_text(facts)
    if text is None:
        return None
    chosen = engine.builder_for(builder)
    first = facts.stages[0].name
    if chosen == "buildkit" and first and submission.dockerfile is not None:
        outcome = engine.build(
            submission.root, str(submission.dockerfile), labels, timeout_s, log_limit,
            builder=chosen, target=first, cgroup_parent=cgroup_parent,
        )  # fmt: skip
    else:
        with tempfile.TemporaryDirectory(prefix="grader-single-") as tmp:
            cut = Path(tmp) / "Dockerfile"
            cut.write_text(text, encoding="utf-8")
            # an absolute path outside the context: docker-py adds the file to the context tar
            outcome = engine.build(
                submission.root, str(cut), labels, timeout_s, log_limit,
                builder=chosen, cgroup_parent=cgroup_parent,
            )  # fmt: skip
    return built_or_failed(outcome, facts), "build stage"

"""Build a submission's image: ``build_image`` -> BuildResult, or BuildFailed / BuildTimedOut."""

from __future__ import annotations

import dataclasses
import logging
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from grader.dockerfile.builder_syntax import buildkit_features, unused_stage_at
from grader.dockerfile.parse import instruction_for_step
from grader.engine import BuildOutcome, Engine
from grader.engine.bounds import BuildLimits
from grader.engine.cgroups import size_text
from grader.engine.faults import base_image_trouble, package_index_unreachable, registry_named
from grader.errors import (
    BuildFailed,
    ClassicBuilderCannot,
    ContextRejected,
    GraderError,
    NetworkUnavailable,
    RegistryUnreachable,
)
from grader.facts import BuildResult, DockerfileFacts, Submission
from grader.intake.submission import safe_file
from grader.stages import buildkit_log

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
        if line is None and step is not None and facts is not None:  # no excerpt: the API's
            ops = buildkit_log.stage_ops(facts.instructions)
            ran = [s for s in buildkit_log.steps(build_log) if s.text == step]
            ins = buildkit_log.instruction_of(ran[-1], ops) if ran else None
            line = ins.line if ins is not None else None
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


def build_failure(error: str, build_log: str, facts: DockerfileFacts | None) -> GraderError:
    """Whose fault a failed build is: a base image the registry would not serve (rate limit,
    5xx, DNS, TLS) or a package index out of reach is ours (``RegistryUnreachable``,
    ``NetworkUnavailable``); anything else is the student's ``BuildFailed``."""
    if base_image_trouble(error):
        return RegistryUnreachable(registry_named(error, "registry-1.docker.io"), error)
    if package_index_unreachable(error + "\n" + build_log[-20_000:]):
        lines = [ln for ln in build_log.splitlines() if package_index_unreachable(ln)]
        return NetworkUnavailable((lines[-1] if lines else error).strip()[:300])
    step, line = failing_step(build_log, facts)
    return BuildFailed(error, build_log, step, line)


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
        ContextRejected: the context is too large.
    """
    size = engine.context_size(submission.root, dockerfile, ignore_patterns(submission.root))
    if size > limit:
        raise ContextRejected(
            f"the build context is {size / 1e6:.0f} MB, more than the {limit / 1e6:.0f} MB "
            "allowed: add a .dockerignore (node_modules, .git, data files)"
        )


@dataclasses.dataclass(frozen=True)
class Bounds:
    """What every build of a submission may use, and the largest image that is run."""

    limits: BuildLimits
    image_limit_bytes: int = 5_000_000_000


def bound_value(bound: str, limits: BuildLimits) -> str:
    """A build bound's value as students read it (pure): ``2 GiB``, ``1024``."""
    return size_text(limits.memory_bytes) if bound == "memory" else str(limits.pids)


def checked(
    engine: Engine, outcome: BuildOutcome, facts: DockerfileFacts | None, bounds: Bounds
) -> BuildResult:
    """The build's result, or why it failed: the bound that stopped it, the builder's error,
    or an image over ``bounds.image_limit_bytes`` (removed at once).

    Raises:
        BuildFailed: the student's Dockerfile failed, a bound stopped it, the image is too big.
        ClassicBuilderCannot: the classic builder failed in a stage BuildKit would skip.
        RegistryUnreachable, NetworkUnavailable: the ``# syntax=`` frontend, a base image or a
            package index could not be reached (see ``build_failure``).
    """
    if outcome.image_id is None:
        error = outcome.error or "the builder produced no image"
        step, line = failing_step(outcome.log, facts)
        if stopped := outcome.stopped_by:
            bound = (stopped, {"limit": bound_value(stopped, bounds.limits)})
            raise BuildFailed(error, outcome.log, step, line, bound)
        if (offline := FRONTEND_UNREACHABLE.search(error)) is not None:
            image = offline.group(1)
            registry = image.split("/")[0] if image.count("/") >= 2 else "docker.io"
            raise RegistryUnreachable(registry, error)
        unused = unused_stage_at(facts, line) if facts and outcome.builder == "classic" else None
        if unused is not None:
            raise ClassicBuilderCannot((), unused)
        raise build_failure(error, outcome.log, facts)
    size = engine.image_size(outcome.image_id)
    if size > bounds.image_limit_bytes:
        engine.remove_image(outcome.image_id, prune=True)  # its large layers too, at once
        limit = f"{bounds.image_limit_bytes / 1e6:.0f} MB"
        bound = ("image_size", {"limit": limit, "size": f"{size / 1e6:.0f} MB"})
        raise BuildFailed(f"image of {size} bytes, over {limit}", outcome.log, None, None, bound)
    return BuildResult(outcome.image_id, outcome.log, outcome.seconds, outcome.builder)


def build_image(
    engine: Engine,
    submission: Submission,
    facts: DockerfileFacts | None,
    labels: Mapping[str, str],
    timeout_s: float,
    log_limit: int,
    bounds: Bounds,
    context_limit: int = 100_000_000,
    on_sent: Callable[[], None] = lambda: None,
    *,
    builder: str = "auto",
) -> BuildResult:
    """Build the submission's Dockerfile with its folder as context, bounded (``on_sent``
    and ``builder``: see ``Engine.build``).

    Raises:
        ContextRejected: the build context is larger than ``context_limit``.
        BuildFailed: the builder reported an error (a student's mistake), or a bound stopped
            the build, or the image is too large.
        ClassicBuilderCannot: the classic builder cannot build what BuildKit would.
        RegistryUnreachable, NetworkUnavailable: the base image's registry, the ``# syntax=``
            frontend or a package index could not be reached (the grading machine's side).
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
        limits=bounds.limits, builder=chosen,
    )  # fmt: skip
    result = checked(engine, outcome, facts, bounds)
    log.info("built %s in %.1f s (%s)", submission.name, outcome.seconds, outcome.builder)
    return result


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
    bounds: Bounds,
    *,
    builder: str = "auto",
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
        args = (engine, single, None, labels, timeout_s, log_limit, bounds)
        return build_image(*args, builder=builder), SINGLE_NAME
    text = first_stage_text(facts)
    if text is None:
        return None
    chosen = engine.builder_for(builder)
    first = facts.stages[0].name
    if chosen == "buildkit" and first and submission.dockerfile is not None:
        outcome = engine.build(
            submission.root, str(submission.dockerfile), labels, timeout_s, log_limit,
            limits=bounds.limits, builder=chosen, target=first,
        )  # fmt: skip
    else:
        with tempfile.TemporaryDirectory(prefix="grader-single-") as tmp:
            cut = Path(tmp) / "Dockerfile"
            cut.write_text(text, encoding="utf-8")
            # an absolute path outside the context: docker-py adds the file to the context tar
            outcome = engine.build(
                submission.root, str(cut), labels, timeout_s, log_limit,
                limits=bounds.limits, builder=chosen,
            )  # fmt: skip
    return checked(engine, outcome, facts, bounds), "build stage"

"""Rubric checks on the Dockerfile itself (static analysis, and its effect on the final image)."""

from __future__ import annotations

import re

from grader.dockerfile.instructions import (
    brings,
    brings_other_than,
    first_index,
    resolve_base,
    show,
    whole_stage_copy,
)
from grader.dockerfile.lint import at_least, graded_by
from grader.dockerfile.mistakes import (
    build_stage_labels,
    heavy_entries,
    npm_install_from_manifest,
    size_text,
    unpinned_bases,
)
from grader.dockerfile.parse import image_repository
from grader.dockerfile.resolve import (
    Install,
    copy_origin,
    feeding_stages,
    inherited,
    installs,
    installs_manifest,
    last_of,
    resolve_from,
    sources,
)
from grader.facts import (
    ContextFacts,
    DockerfileFacts,
    ImageFacts,
    LintFacts,
    LintFinding,
    Stage,
    Submission,
)
from grader.grading.rubric import Grade, check
from grader.i18n import t
from grader.labs.params import (
    BaseImageParams,
    BuildChecksParams,
    DepsFirstParams,
    DockerignoreParams,
    LabelParams,
    LintParams,
    NpmCiParams,
    PinnedBaseParams,
    ProductionDepsParams,
    StagesParams,
    WorkdirParams,
)
from grader.labs.spec import LabSpec


@check("dockerfile.present")
def test_present(submission: Submission, dockerfile_problem: str | None, grade: Grade) -> None:
    """A usable Dockerfile is at the root of the submission."""
    named = submission.root / "Dockerfile"
    if submission.dockerfile is None and named.is_symlink():
        grade.fail("unusable_link")
    if submission.dockerfile is None and named.is_dir():
        grade.fail("unusable_folder")
    if submission.dockerfile is None:
        files = sorted(p.name for p in submission.root.iterdir())[:12]
        grade.fail(found=", ".join(files) or "-")
    if dockerfile_problem is not None:
        grade.fail("unreadable", name=submission.dockerfile.name, reason=dockerfile_problem)
    if not submission.dockerfile_is_default_name:
        grade.note("other_name", name=submission.dockerfile.name)


def _official_base(dockerfile: DockerfileFacts, stage: Stage | None, grade: Grade) -> None:
    params: BaseImageParams = grade.params
    if stage is None:
        grade.fail("no_from", official=params.official_image)
    base = resolve_base(dockerfile, stage)
    if image_repository(base) != params.official_image:
        grade.fail(official=params.official_image, base=base, evidence=show(stage.instructions[0]))


@check("dockerfile.base_image")
def test_base_image(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """The final image starts from an official image of the expected family."""
    _official_base(dockerfile, dockerfile.final_stage, grade)


@check("dockerfile.build_stage_official_node")
def test_build_stage_official_node(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """The first (build) stage starts from an official node image."""
    _official_base(dockerfile, dockerfile.stages[0] if dockerfile.stages else None, grade)


@check("dockerfile.stages")
def test_stages(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """At least two stages, and the final one does not just ship the whole build stage."""
    params: StagesParams = grade.params
    stages = dockerfile.stages
    if len(stages) < params.min_stages:
        grade.fail("single", count=len(stages), min_stages=params.min_stages)
    final = stages[-1]
    parent = resolve_from(dockerfile, final).parent
    if parent is not None:
        grade.fail("inherits", name=parent.name, evidence=show(final.instructions[0]))
    whole = [i for i in final.instructions if whole_stage_copy(i, dockerfile)]
    if whole:
        grade.fail("cosmetic", line=whole[0].line, evidence=show(whole[0]))


@check("dockerfile.build_checks")
def test_build_checks(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """The build stage runs the project's test, lint or build script."""
    params: BuildChecksParams = grade.params
    names = "|".join(map(re.escape, params.scripts))
    pattern = re.compile(rf"\b(npm|yarn|pnpm)\s+(run(-script)?\s+)?({names})\b")
    build_stages = dockerfile.stages[:-1] or dockerfile.stages
    runs = [i for s in build_stages for i in s.instructions if i.keyword == "RUN"]
    if not any(pattern.search(" ".join(i.args)) for i in runs):
        grade.fail(scripts=", ".join(params.scripts))


def _node_installs(
    dockerfile: DockerfileFacts, stage: Stage, seen: tuple[int, ...] = ()
) -> list[tuple[Install, bool]]:
    """The installs that put node_modules in a stage: its own and inherited ones, and those
    of the stages it copies node_modules (or a whole folder) from; each with whether
    NODE_ENV=production was set before it."""
    found: list[tuple[Install, bool]] = []
    production_env = False
    for ins in inherited(dockerfile, stage):
        if ins.keyword in ("ENV", "ARG") and "NODE_ENV" in ins.value:
            production_env = "production" in ins.value
        for install in installs(ins):
            if install.tool in ("npm", "yarn", "pnpm") and install.manifest is not None:
                found.append((install, production_env))
        origin = copy_origin(dockerfile, ins)
        modules = whole_stage_copy(ins, dockerfile) or any(
            "node_modules" in s for s in sources(ins)
        )
        if origin is not None and origin.index not in seen and modules:
            found += _node_installs(dockerfile, origin, (*seen, stage.index))
    return found


@check("dockerfile.production_deps")
def test_production_deps(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """The final stage's node_modules (installed there, inherited or copied from another stage)
    hold the runtime dependencies only."""
    params: ProductionDepsParams = grade.params
    final = dockerfile.final_stage
    found = _node_installs(dockerfile, final) if final else []
    body = inherited(dockerfile, final) if final else ()
    if not found:
        grade.fail("no_install", evidence="\n".join(show(i) for i in body if i.keyword == "COPY"))
    last, production_env = found[-1]
    text = " ".join(last.words).replace("--omit dev", "--omit=dev")
    flags_used = last.production or any(flag in text for flag in params.flags)
    if not (production_env or flags_used):
        grade.fail("all_deps", evidence="\n".join(show(i.instruction) for i, _ in found))


def _label_lines(dockerfile: DockerfileFacts | None, key: str) -> str:
    if dockerfile is None:
        return ""
    lines = [show(i) for i in dockerfile.instructions if i.keyword == "LABEL" and key in i.value]
    return "\n".join(lines)


@check("dockerfile.label_maintainer")
def test_label_maintainer(
    image_config: ImageFacts, dockerfile_or_none: DockerfileFacts | None, grade: Grade
) -> None:
    """The final image carries the label, set to a real value."""
    params: LabelParams = grade.params
    value = image_config.labels.get(params.label)
    evidence = _label_lines(dockerfile_or_none, params.label)
    in_build_stage = (
        build_stage_labels(dockerfile_or_none, params.label) if dockerfile_or_none else []
    )
    if value is None and in_build_stage:
        first = in_build_stage[0]
        grade.fail(
            "build_stage_only",
            label=params.label,
            stage=first.stage + 1,
            final=len(dockerfile_or_none.stages) if dockerfile_or_none else 1,
            line=first.line,
            evidence=evidence,
        )
    if value is None:
        grade.fail("missing", label=params.label, evidence=evidence)
    if not value.strip():
        grade.fail("empty", label=params.label, evidence=evidence)
    if value.strip() in params.placeholders:
        grade.fail("placeholder", label=params.label, value=value, evidence=evidence)


@check("dockerfile.workdir")
def test_workdir(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """The final stage sets a working directory for the app."""
    params: WorkdirParams = grade.params
    final = dockerfile.final_stage
    last = last_of(dockerfile, final, "WORKDIR") if final else None
    if last is None:
        grade.fail("missing")
    path = last.value.strip().strip("\"'")
    if path in ("/", "") or (params.expected and path.rstrip("/") != params.expected.rstrip("/")):
        grade.fail("wrong", path=path, expected_path=params.expected or "/app", evidence=show(last))


def _install_stage(dockerfile: DockerfileFacts, start: Stage, extra: list[str]) -> Stage:
    """The stage that installs the dependencies for ``start``: itself, or the nearest stage it
    inherits or copies from that does (a builder stage)."""
    own = (s for s in feeding_stages(dockerfile, start) if _installs_here(s, extra))
    return next(own, start)


def _installs_here(stage: Stage, extra: list[str]) -> bool:
    return any(installs_manifest(i, extra) for i in stage.instructions)


def _deps_first(dockerfile: DockerfileFacts, context: list[str], grade: Grade) -> None:
    """Dependencies are copied and installed before the app code, so the layer cache works."""
    p: DepsFirstParams = grade.params
    start = dockerfile.final_stage
    if p.stage == "first":  # the build stage: the first one that installs (a bare base first)
        own = (s for s in dockerfile.stages if _installs_here(s, p.install_commands))
        start = next(own, dockerfile.stages[0] if dockerfile.stages else None)
    stage = _install_stage(dockerfile, start, p.install_commands) if start else None
    body = inherited(dockerfile, stage) if stage else ()
    manifest = first_index(body, lambda i: brings(i, p.manifest))
    install = first_index(body, lambda i: installs_manifest(i, p.install_commands))
    code = first_index(body, lambda i: brings_other_than(i, p.deps_files, context))
    seen = sorted(i for i in {manifest, install, code} if i is not None)
    lines = "\n".join(show(body[i]) for i in seen)
    if install is None:
        grade.fail("no_install", manifest=p.manifest, evidence=lines)
    if manifest is None or manifest > install:
        grade.fail("no_manifest", manifest=p.manifest, evidence=lines)
    if code is not None and code <= install:
        grade.fail("code_first", manifest=p.manifest, line=body[code].line, evidence=lines)


def _root_names(submission: Submission) -> list[str]:
    """The names at the build context's root (what COPY globs can match)."""
    try:
        return sorted(p.name for p in submission.root.iterdir())
    except OSError:
        return []


@check("dockerfile.requirements_first")
def test_requirements_first(
    dockerfile: DockerfileFacts, submission: Submission, grade: Grade
) -> None:
    """requirements.txt is copied and installed before the app code."""
    _deps_first(dockerfile, _root_names(submission), grade)


@check("dockerfile.package_json_first")
def test_package_json_first(
    dockerfile: DockerfileFacts, submission: Submission, grade: Grade
) -> None:
    """package.json is copied and the modules installed before the code, in the build stage."""
    _deps_first(dockerfile, _root_names(submission), grade)


@check("dockerfile.copy_not_add")
def test_copy_not_add(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """Files are added with COPY, not ADD."""
    adds = [i for i in dockerfile.instructions if i.keyword == "ADD"]
    if adds:
        grade.fail(lines=", ".join(str(i.line) for i in adds), evidence="\n".join(map(show, adds)))


# -- static diagnoses (issue 7): lint, build context, pinned bases, npm ci -------------------


def _finding_line(finding: LintFinding) -> str:
    return f"line {finding.line}: {finding.rule} ({finding.level}) {finding.message} {finding.url}"


@check("dockerfile.lint")
def test_lint(lint: LintFacts, lab: LabSpec, grade: Grade) -> None:
    """hadolint finds nothing at or above the lab's threshold (rules a lab check grades aside)."""
    params: LintParams = grade.params
    lab_checks = {c.id for c in lab.checks}
    shown = [f for f in lint.findings if f.rule not in params.ignored]
    elsewhere = {f: c for f in shown if (c := graded_by(f.rule, lab_checks)) is not None}
    own = [f for f in shown if f not in elsewhere]
    failing = [f for f in own if at_least(f.level, params.failure_threshold)]
    lines = [_finding_line(f) for f in own]
    lines += [
        _finding_line(f) + " -> " + t("lint.graded_by", grade.lang, check=c)
        for f, c in elsewhere.items()
    ]
    evidence = "\n".join(lines)
    graded = ", ".join(sorted({f"{f.rule} -> {c}" for f, c in elsewhere.items()}))
    if failing:
        first = failing[0]
        grade.fail(
            count=len(failing),
            threshold=params.failure_threshold,
            rules=", ".join(sorted({f.rule for f in failing})),
            first=f"line {first.line}: {first.rule} {first.message}",
            url=first.url,
            evidence=evidence,
        )
    if own:
        grade.note(
            "advice",
            count=len(own),
            rules=", ".join(sorted({f.rule for f in own})),
            threshold=params.failure_threshold,
            evidence=evidence,
        )
    elif elsewhere:
        grade.note("elsewhere", graded=graded, evidence=evidence)


@check("dockerfile.dockerignore")
def test_dockerignore(build_context: ContextFacts, grade: Grade) -> None:
    """No heavy folder (node_modules, .git, a venv) or big file is sent in the build context."""
    params: DockerignoreParams = grade.params
    heavy = heavy_entries(build_context, params.heavy_dirs, int(params.big_file_mb * 1e6))
    top = build_context.top[:5]
    evidence = "\n".join(f"{e.path}{'/' if e.is_dir else ''}: {size_text(e.bytes)}" for e in top)
    if not heavy:
        return
    biggest, total = heavy[0], build_context.total_bytes
    largest = build_context.top[0]
    size, files = size_text(total), build_context.files
    names = ", ".join(f"{e.path}{'/' if e.is_dir else ''}" for e in heavy)
    big = f"{biggest.path}{'/' if biggest.is_dir else ''}"
    big_size, share = size_text(biggest.bytes), f"{100 * biggest.bytes / max(total, 1):.0f}"
    top_entry = f"{largest.path}{'/' if largest.is_dir else ''} ({size_text(largest.bytes)})"
    if build_context.has_dockerignore:
        grade.fail(
            "not_ignored",
            size=size,
            files=files,
            heavy=names,
            biggest=big,
            biggest_size=big_size,
            share=share,
            top=top_entry,
            evidence=evidence,
        )
    grade.fail(
        size=size,
        files=files,
        heavy=names,
        biggest=big,
        biggest_size=big_size,
        share=share,
        top=top_entry,
        evidence=evidence,
    )


@check("dockerfile.pinned_base")
def test_pinned_base(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """Every FROM names a tag other than latest (or a digest); scratch and stage aliases aside."""
    params: PinnedBaseParams = grade.params
    if not dockerfile.stages:
        grade.fail("no_from")
    unpinned = unpinned_bases(dockerfile, params.require_digest)
    if not unpinned:
        return
    reference = unpinned[0].reference
    lines = ", ".join(str(u.instruction.line) for u in unpinned)
    evidence = "\n".join(show(u.instruction) for u in unpinned)
    reason = unpinned[0].reason
    if reason == "no_tag":
        grade.fail("no_tag", reference=reference, lines=lines, evidence=evidence)
    if reason == "latest":
        grade.fail("latest", reference=reference, lines=lines, evidence=evidence)
    if reason == "unresolved":
        grade.fail("unresolved", reference=reference, lines=lines, evidence=evidence)
    grade.fail("no_digest", reference=reference, lines=lines, evidence=evidence)


@check("dockerfile.npm_ci")
def test_npm_ci(dockerfile: DockerfileFacts, submission: Submission, grade: Grade) -> None:
    """With a lockfile, the Dockerfile installs with npm ci, not npm install."""
    params: NpmCiParams = grade.params
    lockfile = next((n for n in params.lockfiles if (submission.root / n).is_file()), None)
    installs = [i for i in dockerfile.instructions if npm_install_from_manifest(i)]
    if lockfile is not None and installs:
        grade.fail(
            lockfile=lockfile,
            lines=", ".join(str(i.line) for i in installs),
            evidence="\n".join(map(show, installs)),
        )

"""Rubric checks on the Dockerfile itself (static analysis, and its effect on the final image)."""

from __future__ import annotations

from grader.checkparams import BaseImageParams, DepsFirstParams, LabelParams, WorkdirParams
from grader.dockerfile import image_repository
from grader.facts import DockerfileFacts, ImageFacts, Instruction, Submission
from grader.rubric import Grade, brings, check, first_index, resolve_base, show


@check("dockerfile.present")
def test_present(submission: Submission, grade: Grade) -> None:
    """A Dockerfile is at the root of the submission."""
    if submission.dockerfile is None:
        files = sorted(p.name for p in submission.root.iterdir())[:12]
        grade.fail(found=", ".join(files) or "-")
    if not submission.dockerfile_is_default_name:
        grade.note("other_name", name=submission.dockerfile.name)


@check("dockerfile.base_image")
def test_base_image(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """The final image starts from an official image of the expected family."""
    params: BaseImageParams = grade.params
    final = dockerfile.final_stage
    if final is None:
        grade.fail("no_from")
    base = resolve_base(dockerfile, final)
    if image_repository(base) != params.official_image:
        grade.fail(official=params.official_image, base=base, evidence=show(final.instructions[0]))


def _label_lines(dockerfile: DockerfileFacts | None, key: str) -> str:
    if dockerfile is None:
        return ""
    lines = [show(i) for i in dockerfile.instructions if i.keyword == "LABEL" and key in i.value]
    return "\n".join(lines)


@check("dockerfile.label_maintainer")
def test_label_maintainer(
    image: ImageFacts, dockerfile_or_none: DockerfileFacts | None, grade: Grade
) -> None:
    """The final image carries the label, set to a real value."""
    params: LabelParams = grade.params
    value = image.labels.get(params.label)
    evidence = _label_lines(dockerfile_or_none, params.label)
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
    workdirs = [i for i in final.instructions if i.keyword == "WORKDIR"] if final else []
    if not workdirs:
        grade.fail("missing")
    last = workdirs[-1]
    path = last.value.strip().strip("\"'")
    if path in ("/", "") or (params.expected and path.rstrip("/") != params.expected.rstrip("/")):
        grade.fail("wrong", path=path, expected_path=params.expected or "/app", evidence=show(last))


def _is_install(ins: Instruction, commands: list[str]) -> bool:
    text = " ".join(ins.args) if ins.exec_form else " ".join(ins.value.split())
    return ins.keyword == "RUN" and any(cmd in text for cmd in commands)


@check("dockerfile.requirements_first")
def test_requirements_first(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """Dependencies are copied and installed before the app code, so the layer cache works."""
    p: DepsFirstParams = grade.params
    final = dockerfile.final_stage
    body = final.instructions if final else ()
    manifest = first_index(body, lambda i: brings(i, p.manifest))
    install = first_index(body, lambda i: _is_install(i, p.install_commands))
    code = first_index(body, lambda i: any(brings(i, f) for f in p.app_files))
    seen = sorted(i for i in {manifest, install, code} if i is not None)
    lines = "\n".join(show(body[i]) for i in seen)
    if install is None:
        grade.fail("no_install", manifest=p.manifest, evidence=lines)
    if manifest is None or manifest > install:
        grade.fail("no_manifest", manifest=p.manifest, evidence=lines)
    if code is not None and code <= install:
        grade.fail("code_first", manifest=p.manifest, line=body[code].line, evidence=lines)


@check("dockerfile.copy_not_add")
def test_copy_not_add(dockerfile: DockerfileFacts, grade: Grade) -> None:
    """Files are added with COPY, not ADD."""
    adds = [i for i in dockerfile.instructions if i.keyword == "ADD"]
    if adds:
        grade.fail(lines=", ".join(str(i.line) for i in adds), evidence="\n".join(map(show, adds)))

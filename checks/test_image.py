"""Rubric checks on the final image's configuration (and the process it runs)."""

from __future__ import annotations

from grader.checkparams import EntrypointParams, ExposeParams, UserParams
from grader.facts import DockerfileFacts, ImageFacts, RuntimeFacts
from grader.lab import LabSpec
from grader.rubric import Grade, check, show

SHELL = ("/bin/sh", "-c")


def _last(dockerfile: DockerfileFacts | None, keyword: str) -> str:
    final = dockerfile.final_stage if dockerfile else None
    found = [i for i in final.instructions if i.keyword == keyword] if final else []
    return show(found[-1]) if found else ""


@check("image.user_non_root")
def test_user_non_root(
    image: ImageFacts,
    runtime_or_none: RuntimeFacts | None,
    dockerfile_or_none: DockerfileFacts | None,
    grade: Grade,
) -> None:
    """The image's user and the running process have a uid >= the lab's minimum."""
    params: UserParams = grade.params
    evidence = _last(dockerfile_or_none, "USER")
    if not image.user:
        grade.fail("root", min_uid=params.min_uid, evidence=evidence)
    if image.uid is None:
        grade.fail("unknown_user", user=image.user, evidence=evidence)
    if image.uid < params.min_uid:
        grade.fail("low_uid", user=image.user, uid=image.uid, min_uid=params.min_uid)
    process_uid = runtime_or_none.process_uid if runtime_or_none else None
    if process_uid is not None and process_uid < params.min_uid:
        grade.fail("process_uid", uid=process_uid, min_uid=params.min_uid, evidence=evidence)


@check("image.entrypoint_exec_form")
def test_entrypoint_exec_form(
    image: ImageFacts, dockerfile_or_none: DockerfileFacts | None, grade: Grade
) -> None:
    """The start command is in exec form, so the app is PID 1 and receives signals."""
    params: EntrypointParams = grade.params
    command, keyword = image.entrypoint, "ENTRYPOINT"
    if command is None and not params.require_entrypoint:
        command, keyword = image.cmd, "CMD"
    if command is None:
        grade.fail("missing")
    if command[:2] == SHELL:
        shell_text = command[2] if len(command) > 2 else ""
        exec_form = ", ".join(f'"{w}"' for w in shell_text.split())
        grade.fail(
            "shell_form",
            keyword=keyword,
            command=shell_text,
            exec_form=f"[{exec_form}]",
            evidence=_last(dockerfile_or_none, keyword),
        )


@check("image.exposed_port")
def test_exposed_port(
    image: ImageFacts, runtime_or_none: RuntimeFacts | None, lab: LabSpec, grade: Grade
) -> None:
    """EXPOSE documents the port the app listens on."""
    params: ExposeParams = grade.params
    port = lab.port
    ports = ", ".join(map(str, sorted(image.exposed_ports)))
    if not image.exposed_ports:
        if params.require_expose:
            grade.fail("missing", port=port)
        grade.note("missing_advice", port=port)
        return
    if port not in image.exposed_ports:
        grade.fail("wrong", port=port, exposed=ports)
    del runtime_or_none  # observed sockets feed the diagnosis of the run and http checks

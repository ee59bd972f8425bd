"""The final image's configuration as its Dockerfile states it, for judging it without an image.

When the image does not build, the checks whose subject the Dockerfile states (the label
maintainer, USER, the ENTRYPOINT/CMD form, EXPOSE) can still be judged, with the rules they
apply to a built image, from the final stage's instructions and those of the stages it is
built FROM (pure; the lab's ``on_build_failure = "dockerfile"`` asks for it). What only the
base image would tell (its own USER, ENTRYPOINT, CMD or EXPOSE) is unknown here.
"""

from __future__ import annotations

import posixpath
import re
import shlex

from grader.facts import DockerfileFacts, ImageFacts, Instruction

SHELL = ("/bin/sh", "-c")
UID_FLAG = re.compile(r"(?:^|\s)(?:-u|--uid)[\s=]+(\d+)\b")


def _words(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError:  # an unbalanced quote: Docker refuses it too; keep what is readable
        return value.split()


def labels(instructions: list[Instruction]) -> dict[str, str]:
    """``LABEL k=v k2="v 2"`` (and the legacy ``LABEL k v``), later ones winning."""
    found: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword != "LABEL":
            continue
        words = _words(ins.value)
        if words and "=" not in words[0]:
            found[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, sep, value = word.partition("=")
            if sep:
                found[key] = value
    return found


def command(ins: Instruction, shell: tuple[str, ...]) -> tuple[str, ...]:
    """ENTRYPOINT/CMD as the image would hold it: exec form as written, shell form wrapped."""
    return ins.args if ins.exec_form else (*shell, ins.value.strip())


def user_uid(user: str, instructions: list[Instruction]) -> int | None:
    """The uid of ``user``: its number, 0 for root, or the ``-u``/``--uid`` of the RUN that
    creates it (useradd, adduser); None when the Dockerfile does not say."""
    name = user.split(":", 1)[0].strip()
    if name.isdigit():
        return int(name)
    if name in ("", "root"):
        return 0
    for ins in reversed(instructions):
        text = " ".join(ins.args) if ins.exec_form else ins.value
        if ins.keyword == "RUN" and re.search(
            rf"\b(?:useradd|adduser)\b.*\b{re.escape(name)}\b", text
        ):
            found = UID_FLAG.search(text)
            if found:
                return int(found.group(1))
    return None


def ports(instructions: list[Instruction]) -> frozenset[int]:
    """TCP ports of EXPOSE (``8000``, ``8000/tcp``); variables and UDP ports left out."""
    found = set()
    for ins in instructions:
        if ins.keyword == "EXPOSE":
            for word in ins.value.split():
                number, _, proto = word.partition("/")
                if number.isdigit() and proto.lower() in ("", "tcp"):
                    found.add(int(number))
    return frozenset(found)


def stated_image(dockerfile: DockerfileFacts) -> ImageFacts:
    """The final image's configuration as the Dockerfile states it (``from_dockerfile``)."""
    final = dockerfile.final_stage
    chain = list(reversed(dockerfile.lineage(final))) if final else []
    body = [i for stage in chain for i in stage.instructions if i.keyword != "FROM"]
    last = {i.keyword: i for i in body}
    shell: tuple[str, ...] = SHELL
    entrypoint = cmd = None
    workdir = ""
    for ins in body:
        if ins.keyword == "SHELL" and ins.exec_form and ins.args:
            shell = ins.args
        elif ins.keyword == "ENTRYPOINT":
            entrypoint = command(ins, shell)
        elif ins.keyword == "CMD":
            cmd = command(ins, shell)
        elif ins.keyword == "WORKDIR":
            workdir = posixpath.join(workdir or "/", ins.value.strip().strip("\"'"))
    user = last["USER"].value.strip() if "USER" in last else ""
    return ImageFacts(
        image_id="",
        labels=labels(body),
        user=user,
        uid=user_uid(user, body) if user else 0,
        exposed_ports=ports(body),
        entrypoint=entrypoint,
        cmd=cmd,
        workdir=workdir,
        env={},
        size=0,
        layers=0,
        from_dockerfile=True,
    )

"""Pure helpers on a Dockerfile's instructions: how to show one, what a COPY brings, which
image a stage really starts from. Used by the rubric's checks and by the diagnosis stages."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable

from grader.facts import DockerfileFacts, Instruction, Stage


def show(ins: Instruction) -> str:
    """An instruction as the student wrote it, with its line: ``line 7: COPY . .``."""
    flags = " ".join(ins.flags)
    return f"line {ins.line}: {ins.keyword} {flags + ' ' if flags else ''}{ins.value}"


def resolve_base(facts: DockerfileFacts, stage: Stage) -> str:
    """The image a stage really starts from, following ``FROM <earlier stage>`` aliases."""
    return facts.lineage(stage)[-1].base


def sources(ins: Instruction) -> tuple[str, ...]:
    """The source arguments of a COPY/ADD (all but the destination)."""
    return ins.args[:-1] if len(ins.args) > 1 else ()


def brings(ins: Instruction, filename: str) -> bool:
    """True when this COPY/ADD (not ``--from``) brings ``filename`` from the build context."""
    if ins.keyword not in ("COPY", "ADD") or any(f.startswith("--from") for f in ins.flags):
        return False
    for src in sources(ins):
        clean = src.removeprefix("./").rstrip("/")
        if clean in ("", ".", "*") or fnmatch.fnmatch(filename, clean):
            return True
    return False


def brings_other_than(ins: Instruction, deps_files: list[str]) -> bool:
    """True when this COPY/ADD brings from the context anything but dependency manifests."""
    if ins.keyword not in ("COPY", "ADD") or any(f.startswith("--from") for f in ins.flags):
        return False
    names = {d.rsplit("/", 1)[-1] for d in deps_files}
    return any(src.removeprefix("./").rstrip("/") not in names for src in sources(ins))


def whole_stage_copy(ins: Instruction, stages: tuple[Stage, ...]) -> bool:
    """True for ``COPY --from=<stage> <its whole workdir or root> ...``: a cosmetic stage."""
    origin = next((f.split("=", 1)[1] for f in ins.flags if f.startswith("--from=")), None)
    if ins.keyword != "COPY" or origin is None:
        return False
    stage = next((s for s in stages if s.name == origin or str(s.index) == origin), None)
    if stage is None:
        return False
    workdirs = [i.value.strip().strip("\"'") for i in stage.instructions if i.keyword == "WORKDIR"]
    workdir = workdirs[-1].rstrip("/") if workdirs else ""
    whole = {"", ".", "/", workdir, f"{workdir}/."}
    return any(src.rstrip("/") in whole or src in whole for src in sources(ins))


def first_index(items: Iterable[Instruction], keep: Callable[[Instruction], bool]) -> int | None:
    """Position of the first instruction satisfying ``keep``."""
    return next((i for i, ins in enumerate(items) if keep(ins)), None)

"""Pure helpers on a Dockerfile's instructions: how to show one, what a COPY brings, which
image a stage really starts from. Used by the rubric's checks and by the diagnosis stages."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from grader.dockerfile.resolve import (
    base_image,
    brings,
    brings_other_than,
    copy_origin,
    last_of,
    sources,
)
from grader.facts import DockerfileFacts, Instruction, Stage

__all__ = ["brings", "brings_other_than", "first_index", "resolve_base", "show", "sources"]
__all__ += ["whole_stage_copy"]


def show(ins: Instruction) -> str:
    """An instruction as the student wrote it, with its line: ``line 7: COPY . .``."""
    flags = " ".join(ins.flags)
    return f"line {ins.line}: {ins.keyword} {flags + ' ' if flags else ''}{ins.value}"


def resolve_base(facts: DockerfileFacts, stage: Stage) -> str:
    """The image a stage really starts from: build arguments substituted, earlier stages'
    aliases followed (any case), as Docker reads its FROM lines."""
    return base_image(facts, stage)


def whole_stage_copy(ins: Instruction, facts: DockerfileFacts) -> bool:
    """True for ``COPY --from=<stage> <its whole workdir or root> ...``: a cosmetic stage."""
    stage = copy_origin(facts, ins)
    if ins.keyword != "COPY" or stage is None:
        return False
    last = last_of(facts, stage, "WORKDIR")
    workdir = last.value.strip().strip("\"'").rstrip("/") if last else ""
    whole = {"", ".", "/", workdir, f"{workdir}/."}
    return any(src.rstrip("/") in whole or src in whole for src in sources(ins))


def first_index(items: Iterable[Instruction], keep: Callable[[Instruction], bool]) -> int | None:
    """Position of the first instruction satisfying ``keep``."""
    return next((i for i, ins in enumerate(items) if keep(ins)), None)

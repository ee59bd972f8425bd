"""What in a Dockerfile only BuildKit builds, and which stages the final image needs.

The classic builder refuses BuildKit's syntax (``RUN --mount``, ``COPY --chmod``/``--link``,
heredocs...) and builds every stage, where BuildKit builds only those the target needs. When the
grader builds with the classic builder, these tell a student's Dockerfile that builds with
``docker build`` on their machine from one that is really broken (pure functions).
"""

from __future__ import annotations

import re

from grader.facts import DockerfileFacts, Instruction

HEREDOC = re.compile(r"<<-?([\"']?)[A-Za-z_][\w.-]*\1")
"""A heredoc marker: ``<<EOF``, ``<<-EOT``, ``<<'EOF'``."""
BUILDKIT_FLAGS: dict[str, tuple[str, ...]] = {
    "RUN": ("--mount", "--network", "--security"),
    "COPY": ("--chmod", "--link", "--parents", "--exclude"),
    "ADD": ("--chmod", "--link", "--checksum", "--keep-git-dir", "--exclude"),
}
"""Instruction flags the classic builder does not know."""


def has_heredoc(ins: Instruction) -> bool:
    """True when the instruction holds a heredoc (``RUN <<EOF``...) (pure)."""
    first = ins.value.split("\n", 1)[0]
    return ins.keyword in ("RUN", "COPY", "ADD") and HEREDOC.search(first) is not None


def buildkit_features(facts: DockerfileFacts) -> tuple[str, ...]:
    """The BuildKit-only syntax the Dockerfile uses, each once, as written: ``RUN --mount``,
    ``COPY --chmod``, ``RUN <<EOF (heredoc)``... (pure)."""
    found: list[str] = []
    for ins in facts.instructions:
        for flag in ins.flags:
            name = flag.split("=", 1)[0]
            if name in BUILDKIT_FLAGS.get(ins.keyword, ()):
                found.append(f"{ins.keyword} {name} (line {ins.line})")
        if has_heredoc(ins):
            found.append(f"{ins.keyword} <<heredoc (line {ins.line})")
    unique: dict[str, None] = dict.fromkeys(found)
    return tuple(unique)


def _base_stage(ins: Instruction, names: dict[str, int]) -> int | None:
    """The earlier stage an instruction uses (FROM <stage>, COPY --from=<stage>, RUN
    --mount=from=<stage>), None when it names none."""
    refs: list[str] = []
    if ins.keyword == "FROM" and ins.args:
        refs.append(ins.args[0])
    for flag in ins.flags:
        if flag.startswith("--from="):
            refs.append(flag.split("=", 1)[1])
        elif flag.startswith("--mount="):
            refs += [p.split("=", 1)[1] for p in flag[8:].split(",") if p.startswith("from=")]
    for ref in refs:
        key = ref.lower()
        if key in names:
            return names[key]
    return None


def needed_stages(facts: DockerfileFacts, target: int | None = None) -> set[int]:
    """The stages BuildKit builds for ``target`` (the last stage by default): the target and
    every stage it uses, directly or not (pure)."""
    if not facts.stages:
        return set()
    names = {s.name.lower(): s.index for s in facts.stages if s.name}
    names.update({str(s.index): s.index for s in facts.stages})
    start = facts.stages[-1].index if target is None else target
    needed, todo = set(), [start]
    while todo:
        index = todo.pop()
        if index in needed:
            continue
        needed.add(index)
        stage = next(s for s in facts.stages if s.index == index)
        for ins in stage.instructions:
            used = _base_stage(ins, names)
            if used is not None and used < index:
                todo.append(used)
    return needed


def unused_stage_at(facts: DockerfileFacts, line: int | None) -> tuple[str, int] | None:
    """The name (or number) and FROM line of the stage holding ``line`` when the final image
    does not need that stage (pure): a failure there is one BuildKit would never have met."""
    if line is None:
        return None
    holder = next((i for i in reversed(facts.instructions) if i.line <= line), None)
    if holder is None or holder.stage < 0 or holder.stage in needed_stages(facts):
        return None
    stage = next(s for s in facts.stages if s.index == holder.stage)
    return stage.name or str(stage.index), stage.instructions[0].line

"""Read BuildKit's plain progress: its steps, which came from the cache, where a build failed.

BuildKit names each step ``#<vertex> [<stage> <n>/<total>] <INSTRUCTION>``; the stage is
usually left out when the Dockerfile has one stage (not when a RUN uses ``--mount``), and is
``stage-<k>`` for an unnamed stage ``k``. Only the
instructions that make a step are counted: FROM (an image, not an earlier stage or scratch),
RUN, COPY, ADD and WORKDIR. A failure ends with ``<Dockerfile name>:<line>`` above an excerpt.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from grader.facts import Instruction

HEADER = re.compile(r"^#(\d+) \[(?:([^\s\]]+) )?\s*(\d+)/(\d+)\] (.*)$")
"""A step's header line: vertex, stage (if named), number, total, instruction text."""
STATE = re.compile(r"^#(\d+) (CACHED|DONE ([\d.]+)s|ERROR\b.*|CANCELED)\s*$")
FAILED_AT = re.compile(r"^ > \[(?:[^\s\]]+ )?\s*\d+/\d+\] (.*):\s*$")
"""The failed step, repeated above its output: `` > [stage 2/4] RUN make:``."""
SOURCE_LINE = re.compile(r"^[\w.@+-]+:(\d+)\s*$")
"""``Dockerfile:12``: where BuildKit says the failing instruction is."""
OPS = ("FROM", "RUN", "COPY", "ADD", "WORKDIR")


@dataclass(frozen=True)
class Step:
    """One step BuildKit reported."""

    vertex: int
    stage: str | None
    number: int
    text: str
    cached: bool
    seconds: float | None
    """BuildKit's own duration of the step (None when it did not finish)."""


def steps(log: str) -> list[Step]:
    """The Dockerfile steps in a plain BuildKit log, in the order they started (pure)."""
    found: dict[int, Step] = {}
    for line in log.splitlines():
        header = HEADER.match(line)
        if header is not None:
            vertex = int(header.group(1))
            if vertex not in found:
                stage, number, text = header.group(2), int(header.group(3)), header.group(5)
                found[vertex] = Step(vertex, stage, number, text.strip(), False, None)
            continue
        state = STATE.match(line)
        if state is not None and int(state.group(1)) in found:
            step = found[int(state.group(1))]
            if state.group(2) == "CACHED":
                found[step.vertex] = dataclasses.replace(step, cached=True, seconds=0.0)
            elif state.group(3) is not None:
                found[step.vertex] = dataclasses.replace(step, seconds=float(state.group(3)))
    return list(found.values())


def is_buildkit_log(log: str) -> bool:
    """True when ``log`` is BuildKit's plain progress (pure)."""
    return any(line.startswith("#1 ") for line in log.splitlines()[:20])


def failure(log: str) -> tuple[str | None, int | None]:
    """The failed step's instruction and its Dockerfile line, as BuildKit reports them (pure)."""
    step: str | None = None
    line: int | None = None
    lines = log.splitlines()
    for i, text in enumerate(lines):
        failed = FAILED_AT.match(text)
        if failed is not None:
            step = failed.group(1).strip()
        source = SOURCE_LINE.match(text)
        if source is not None and i + 1 < len(lines) and lines[i + 1].startswith("-----"):
            line = int(source.group(1))
    return step, line


def stage_ops(instructions: Sequence[Instruction]) -> dict[tuple[str | None, int], Instruction]:
    """Each step BuildKit would name, ``(stage, number)``, mapped to its instruction (pure):
    ``instructions`` are a Dockerfile's, in order (a cut one's too)."""
    froms = [i for i in instructions if i.keyword == "FROM"]
    names: list[str] = []
    ops: dict[tuple[str | None, int], Instruction] = {}
    count = 0
    stage: str | None = None
    for ins in instructions:
        if ins.keyword == "FROM":
            words = ins.args
            named = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stage = None if len(froms) == 1 else named or f"stage-{len(names)}"
            base = words[0].lower() if words else ""
            count = 0
            earlier = base in {n.lower() for n in names} or base.isdigit() or base == "scratch"
            names.append(named or f"stage-{len(names)}")
            if not earlier:
                count += 1
                ops[(stage, count)] = ins
        elif ins.keyword in OPS and names:
            count += 1
            ops[(stage, count)] = ins
    if len(froms) == 1:  # a RUN --mount makes BuildKit name even a lone stage: stage-0 / AS
        ops.update({(names[0], number): ins for (_, number), ins in list(ops.items())})
    return ops


def instruction_of(
    step: Step, ops: dict[tuple[str | None, int], Instruction]
) -> Instruction | None:
    """The instruction a step ran (pure), when its keyword agrees."""
    ins = ops.get((step.stage, step.number))
    keyword = (step.text.split() or [""])[0].upper()
    return ins if ins is not None and ins.keyword == keyword else None

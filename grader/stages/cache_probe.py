"""The layer-cache probe: rebuild a temporary copy after a one-line app change, see what re-ran.

The Dockerfile is cut after each stage's last dependency install (nothing after it can tell
whether the install came from the cache), so a well-ordered Dockerfile rebuilds entirely from
the cache in a fraction of a second; a Dockerfile that copies the code first re-runs the install.
"""

from __future__ import annotations

import fnmatch
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.dockerfile.resolve import copy_origin, resolve_from
from grader.dockerfile.resolve import installs as find_installs
from grader.engine import Engine
from grader.engine.bounds import BuildLimits
from grader.engine.dockerignore import included, read_patterns
from grader.facts import CacheFacts, CacheStep, DockerfileFacts, Instruction, Stage, Submission
from grader.facts.logcap import CappedText
from grader.stages import buildkit_log
from grader.stages.build import ignore_patterns

STEP_LINE = re.compile(r"^Step (\d+)/\d+ : (.*)$")
SOURCE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".go", ".php", ".sh", ".java")
COMMON_APP_FILES = ("app.py", "main.py", "index.js", "server.js", "app.js", "main.js")
NEVER_APP = ("Dockerfile", "dockerfile", ".dockerignore", "submission.toml")
SAFE_LABEL = re.compile(r"^[\w.:@-]+$")
MODULE_VAR = re.compile(r"^([A-Za-z_][\w.]*):[A-Za-z_]\w*$")
"""A WSGI/ASGI target such as gunicorn's ``app:app``."""


class TimedLog(CappedText):
    """A bounded build log that also notes when each chunk of output arrived."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.chunks: list[tuple[float, str]] = []

    def add(self, text: str) -> None:
        """Append text, noting its arrival time (the first 10,000 chunks)."""
        if len(self.chunks) < 10_000:
            self.chunks.append((time.monotonic(), text))
        super().add(text)


@dataclass(frozen=True)
class StepMark:
    """A ``Step N/M`` line of the classic builder's output."""

    number: int
    text: str
    started: float
    cached: bool


def parse_steps(chunks: list[tuple[float, str]]) -> list[StepMark]:
    """The steps the classic builder announced, when each started and whether it was cached."""
    marks: list[StepMark] = []
    pending = ""
    for at, text in chunks:
        pending += text
        *lines, pending = pending.split("\n")
        for line in lines:
            match = STEP_LINE.match(line.strip())
            if match:
                marks.append(StepMark(int(match.group(1)), match.group(2).strip(), at, False))
            elif "Using cache" in line and marks:
                last = marks[-1]
                marks[-1] = StepMark(last.number, last.text, last.started, True)
    if pending.strip() and (match := STEP_LINE.match(pending.strip())):
        at = chunks[-1][0]
        marks.append(StepMark(int(match.group(1)), match.group(2).strip(), at, False))
    return marks


def step_facts(
    marks: list[StepMark],
    kept: list[Instruction],
    installs: Callable[[Instruction], bool],
    end: float,
) -> tuple[CacheStep, ...]:
    """Steps mapped to the student's instructions, each timed up to the next one's start."""
    steps = []
    for i, mark in enumerate(marks):
        ins = kept[mark.number - 1] if 1 <= mark.number <= len(kept) else None
        if ins is None:
            continue  # the grader's own LABEL step
        finished = marks[i + 1].started if i + 1 < len(marks) else end
        seconds = max(0.0, finished - mark.started)
        steps.append(CacheStep(mark.text, ins.line, mark.cached, seconds, installs(ins)))
    return tuple(steps)


def install_matcher(commands: list[str]) -> Callable[[Instruction], bool]:
    """A predicate: this instruction installs dependencies (shell or exec form, as
    ``grader.dockerfile.resolve`` reads it; ``commands`` add the lab's other tools). Named
    packages count too (``pip install flask gunicorn`` after ``COPY . .`` re-runs as well)."""

    def installs(ins: Instruction) -> bool:
        return bool(find_installs(ins, commands))

    return installs


def _references(ins: Instruction) -> str | None:
    if ins.keyword == "FROM":
        return ins.args[0] if ins.args else None
    origin = next((f.split("=", 1)[1] for f in ins.flags if f.startswith("--from=")), None)
    return origin if ins.keyword in ("COPY", "ADD") else None


def _used_stage(facts: DockerfileFacts, ins: Instruction) -> Stage | None:
    """The earlier stage a FROM or ``COPY --from`` uses (aliases in any case)."""
    if ins.keyword == "FROM":
        stage = next((s for s in facts.stages if s.index == ins.stage), None)
        return resolve_from(facts, stage).parent if stage else None
    return copy_origin(facts, ins)


def kept_instructions(
    facts: DockerfileFacts, installs: Callable[[Instruction], bool]
) -> list[Instruction] | None:
    """Each stage up to its last install; stages without one are dropped unless a kept
    instruction uses them. None when nothing installs dependencies."""
    keep: dict[int, list[Instruction]] = {}
    for stage in facts.stages:
        items = list(stage.instructions)
        last = max((i for i, x in enumerate(items) if installs(x)), default=None)
        if last is not None:
            keep[stage.index] = items[: last + 1]
    if not keep:
        return None
    for stage in reversed(facts.stages):
        for ins in keep.get(stage.index, []):
            target = _used_stage(facts, ins)
            if target is not None and target.index < stage.index:
                keep[target.index] = list(target.instructions)
    dropped = len(keep) < len(facts.stages)
    numeric = any((_references(i) or "").isdigit() for k in keep.values() for i in k)
    if dropped and numeric:  # numbered stages would shift: keep everything before
        last_line = max(i.line for k in keep.values() for i in k)
        return [i for i in facts.instructions if i.line <= last_line]
    preamble = [i for i in facts.instructions if i.stage < 0]
    return preamble + [i for s in facts.stages for i in keep.get(s.index, [])]


def cut_text(facts: DockerfileFacts, kept: list[Instruction]) -> str:
    """The Dockerfile's text holding only the ``kept`` instructions (their lines as written)."""
    raw = facts.path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")
    lines = raw.replace("\r\n", "\n").split("\n")
    starts = [i.line for i in facts.instructions] + [len(lines) + 1]
    spans = {ins.line: (ins.line, starts[k + 1]) for k, ins in enumerate(facts.instructions)}
    out = lines[: facts.instructions[0].line - 1] if facts.instructions else []
    for ins in kept:
        first, after = spans[ins.line]
        out += lines[first - 1 : after - 1]
    return "\n".join(out) + "\n"


def _ignored(rel: str, patterns: list[str]) -> bool:
    clean = [p.removeprefix("./").rstrip("/") for p in patterns if not p.startswith("!")]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel.split("/")[0], p) for p in clean)


def _command_files(facts: DockerfileFacts) -> list[str]:
    final = facts.final_stage
    words = [
        w
        for ins in (final.instructions if final else ())
        if ins.keyword in ("ENTRYPOINT", "CMD")
        for w in ins.args
    ]
    names = [m.group(1).replace(".", "/") + ".py" for w in words if (m := MODULE_VAR.match(w))]
    names += [w for w in words if w.endswith(SOURCE_SUFFIXES)]
    return [n.removeprefix("./").lstrip("/").split("/app/", 1)[-1] for n in names]


def app_file(root: Path, facts: DockerfileFacts, deps_files: list[str]) -> str | None:
    """The app code file to change: the one the start command runs, a usual name, or any
    source file that is not a dependency manifest (None when there is none)."""
    patterns = ignore_patterns(root)
    others = sorted(p.name for p in root.iterdir() if p.is_file() and not p.is_symlink())
    sources = [n for n in others if n.endswith(SOURCE_SUFFIXES)]
    rest = [n for n in others if not n.startswith(".")]
    for name in [*_command_files(facts), *COMMON_APP_FILES, *sources, *rest]:
        path = root / name
        skip = name in deps_files or name in NEVER_APP or name.startswith("Dockerfile")
        if skip or _ignored(name, patterns) or path.is_symlink() or not path.is_file():
            continue
        return name
    return None


def _comment(name: str) -> str:
    if name.endswith((".py", ".rb", ".sh", ".txt", ".toml", ".yml", ".yaml")):
        return "# "
    return "// " if name.endswith(SOURCE_SUFFIXES) else ""


def label_line(labels: Mapping[str, str]) -> str:
    """One LABEL instruction carrying the grader's labels (one step, where the API's labels
    cost a step each); values that are not plain words are left out."""
    safe = {k: v for k, v in labels.items() if SAFE_LABEL.match(k) and SAFE_LABEL.match(v)}
    return "LABEL " + " ".join(f'"{k}"="{v}"' for k, v in safe.items()) + "\n" if safe else ""


def _special_files(folder: str, names: list[str]) -> set[str]:
    special = set()
    for name in names:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            special.add(name)
    return special


def copy_tree(source: Path, target: Path, dockerfile: str = "Dockerfile") -> None:
    """Copy what a submission's build context holds (``.dockerignore`` applied, as Docker
    sends it: an ignored ``node_modules`` of gigabytes is not copied), with its modes and
    owners (the builder's cache keys include them); special files (a FIFO would block the
    copy) are left out."""
    kept = set(included(source, read_patterns(source) or [], dockerfile))
    kept |= {str(parent) for path in kept for parent in Path(path).parents}  # "!a/b" keeps a

    def ignored(folder: str, names: list[str]) -> set[str]:
        rel = os.path.relpath(folder, source)
        outside = {n for n in names if os.path.normpath(os.path.join(rel, n)) not in kept}
        return outside | _special_files(folder, names)

    shutil.copytree(source, target, symlinks=True, ignore=ignored)
    for folder, dirs, files in os.walk(target):
        for name in [*dirs, *files]:
            rel = (Path(folder) / name).relative_to(target)
            info = (source / rel).lstat()
            try:
                os.lchown(Path(folder) / name, info.st_uid, info.st_gid)
            except PermissionError:
                return  # not root: the copy is ours, as the original most likely is


def probe_cache(
    engine: Engine,
    submission: Submission,
    facts: DockerfileFacts,
    labels: Mapping[str, str],
    install_commands: list[str],
    deps_files: list[str],
    timeout_s: float,
    limits: BuildLimits,
    builder: str = "auto",
) -> tuple[CacheFacts, str | None]:
    """Rebuild a copy after appending one line to the app file with the main build's
    ``builder``; returns the facts and the rebuilt image (to remove).

    Raises:
        BuildTimedOut, EngineError.
    """
    installs = install_matcher(install_commands)
    kept = kept_instructions(facts, installs)
    changed = app_file(submission.root, facts, deps_files)
    if kept is None or changed is None:
        return CacheFacts(changed, (), 0.0), None
    with tempfile.TemporaryDirectory(prefix="grader-cache-") as tmp:
        context = Path(tmp) / "context"
        dockerfile = submission.dockerfile.name if submission.dockerfile else "Dockerfile"
        copy_tree(submission.root, context, dockerfile)
        with (context / changed).open("a", encoding="utf-8") as app:
            app.write(f"\n{_comment(changed)}grader cache probe {secrets.token_hex(8)}\n")
        cut = Path(tmp) / "Dockerfile.cache-probe"
        cut.write_text(cut_text(facts, kept) + label_line(labels), encoding="utf-8")
        log = TimedLog(200_000)
        started = time.monotonic()
        outcome = engine.build(
            context,
            str(cut),
            {},
            timeout_s,
            log.limit,
            log,
            limits=limits,
            builder=builder,
        )
        end = time.monotonic()
    if outcome.builder == "buildkit":
        steps = buildkit_step_facts(log.text(), kept, installs)
    else:
        steps = step_facts(parse_steps(log.chunks), kept, installs, end)
    return CacheFacts(changed, steps, end - started), outcome.image_id


def buildkit_step_facts(
    text: str, kept: list[Instruction], installs: Callable[[Instruction], bool]
) -> tuple[CacheStep, ...]:
    """BuildKit's steps mapped to the student's instructions, each with BuildKit's own time
    (pure); a cached step is ``CACHED``."""
    ops = buildkit_log.stage_ops(kept)
    found = []
    for step in buildkit_log.steps(text):
        ins = buildkit_log.instruction_of(step, ops)
        if ins is None or ins.keyword == "FROM":
            continue  # the base image (classic's FROM step is not timed either) or unknown
        seconds = step.seconds or 0.0
        found.append(CacheStep(step.text, ins.line, step.cached, seconds, installs(ins)))
    return tuple(found)

"""One reading of a Dockerfile, as Docker reads it: each FROM resolved (build arguments, stage
aliases), the install steps that read a manifest, what a COPY brings from the context."""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from grader.facts import DockerfileFacts, Instruction, Stage

VARIABLE = re.compile(r"\$(?:\{(\w+)(?:(:?[-+])([^}]*))?\}|(\w+))")
"""``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}`` in a FROM."""
SEGMENT = re.compile(r"&&|\|\||;|\||&|\n")
"""What separates the commands of a shell line."""
SHELLS = ("sh", "bash", "ash", "dash", "zsh")
"""Programs that run their ``-c`` argument as a shell line."""
PREFIXES = ("sudo", "exec", "time", "env", "nice", "nohup")
"""Words before the real program of a command."""
GLOB = re.compile(r"[*?\[]")


# -- FROM ------------------------------------------------------------------------------------


def global_args(facts: DockerfileFacts) -> dict[str, str | None]:
    """ARGs declared before the first FROM, with their defaults (None when without)."""
    found: dict[str, str | None] = {}
    for ins in facts.instructions:
        if ins.stage >= 0:
            break
        if ins.keyword == "ARG":
            for word in ins.args:
                name, eq, value = word.partition("=")
                found[name] = value if eq else None
    return found


def substitute(text: str, args: dict[str, str | None]) -> str | None:
    """``text`` with build arguments replaced (``${V:-d}`` takes ``d`` when V has no value);
    None when one has no value and no default."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name, op, word = match.group(1) or match.group(4), match.group(2), match.group(3)
        word = VARIABLE.sub(value, word) if word else ""  # ${A:-$B} is expanded too
        found = args.get(name)
        unset = found is None or (found == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return word if unset else str(found)
        if op in (":+", "+"):
            return "" if unset else word
        if found is None:
            missing = True
            return ""
        return found

    result = VARIABLE.sub(value, text)
    return None if missing else result


@dataclass(frozen=True)
class ResolvedFrom:
    """A stage's FROM as Docker reads it."""

    stage: Stage
    """The stage."""
    reference: str | None
    """What FROM names, build arguments substituted; None when an argument has no value."""
    parent: Stage | None
    """The earlier stage it is built FROM (aliases compared case-insensitively), if any."""

    @property
    def shown(self) -> str:
        """The reference when resolved, else as written."""
        return self.reference if self.reference is not None else self.stage.base


def stage_named(
    facts: DockerfileFacts, name: str, before: int, by_index: bool = False
) -> Stage | None:
    """The stage called ``name`` (its alias in any case; its index too when ``by_index``, as
    ``COPY --from=0`` allows) defined before stage ``before``."""
    wanted = name.strip().lower()
    for stage in facts.stages[:before]:
        if (stage.name and stage.name.lower() == wanted) or (
            by_index and str(stage.index) == wanted
        ):
            return stage
    return None


def resolve_from(facts: DockerfileFacts, stage: Stage) -> ResolvedFrom:
    """Resolve a stage's FROM: build arguments, then earlier stages' aliases."""
    reference = substitute(stage.base, global_args(facts))
    parent = stage_named(facts, reference, stage.index) if reference is not None else None
    return ResolvedFrom(stage, reference, parent)


def lineage(facts: DockerfileFacts, stage: Stage) -> tuple[Stage, ...]:
    """``stage``, then the earlier stages it is built FROM, nearest first."""
    chain = [stage]
    while (parent := resolve_from(facts, chain[-1]).parent) is not None and parent not in chain:
        chain.append(parent)
    return tuple(chain)


def base_image(facts: DockerfileFacts, stage: Stage) -> str:
    """The image a stage really starts from (through earlier stages), arguments substituted."""
    return resolve_from(facts, lineage(facts, stage)[-1]).shown


def inherited(facts: DockerfileFacts, stage: Stage) -> tuple[Instruction, ...]:
    """The instructions that make a stage: its ancestors' (oldest first), then its own."""
    return tuple(i for s in reversed(lineage(facts, stage)) for i in s.instructions)


def last_of(facts: DockerfileFacts, stage: Stage, keyword: str) -> Instruction | None:
    """The last ``keyword`` instruction in force in a stage (inherited ones included)."""
    found = [i for i in inherited(facts, stage) if i.keyword == keyword]
    return found[-1] if found else None


def copy_origin(facts: DockerfileFacts, ins: Instruction) -> Stage | None:
    """The earlier stage a ``COPY --from=<stage>`` copies from (None for an image or none)."""
    origin = next((f.split("=", 1)[1] for f in ins.flags if f.startswith("--from=")), None)
    if ins.keyword not in ("COPY", "ADD") or origin is None:
        return None
    return stage_named(facts, origin, max(ins.stage, 0), by_index=True)


def feeding_stages(facts: DockerfileFacts, stage: Stage) -> tuple[Stage, ...]:
    """``stage`` and every earlier stage it inherits or copies from, transitively, nearest
    first."""
    seen: list[Stage] = []
    todo = [stage]
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.append(current)
        todo += lineage(facts, current)[1:]
        todo += [o for i in current.instructions if (o := copy_origin(facts, i)) is not None]
    return tuple(seen)


# -- install steps ---------------------------------------------------------------------------

NPM_INSTALLS = ("install", "i", "ci", "isntall", "in", "ins", "inst", "insta", "instal", "add")
NPM_VALUE_FLAGS = ("--omit", "--only", "--include", "--loglevel", "--registry", "--cache")
PRODUCTION_FLAGS = ("--only=production", "--only=prod", "--production", "--omit=dev")


@dataclass(frozen=True)
class Install:
    """A command that installs dependencies."""

    instruction: Instruction
    """The RUN it is in."""
    tool: str
    """``npm``, ``yarn``, ``pnpm``, ``pip``, ``poetry``, ``pipenv`` or the lab's command."""
    words: tuple[str, ...]
    """The command's words, from the program on."""
    manifest: str | None
    """The manifest it reads (``package.json``, the ``-r`` file...); None when it installs
    named packages only (``pip install --upgrade pip``, ``npm install -g nodemon``)."""

    @property
    def production(self) -> bool:
        """It leaves development dependencies out (``--omit=dev``, ``--production``...)."""
        text = " ".join(self.words).replace("--omit dev", "--omit=dev")
        return any(f in text.split() for f in PRODUCTION_FLAGS)


def run_lines(ins: Instruction) -> tuple[str, ...] | tuple[tuple[str, ...]]:
    """What a RUN runs: its shell line, or (exec form) the argument list itself."""
    if not ins.exec_form:
        return (ins.value,)
    args = ins.args
    # ["sh", "-c", "..."], ["bash", "-lc", "..."]: the shell line
    shell_flag = len(args) >= 3 and re.fullmatch(r"-[a-z]*c[a-z]*", args[1]) is not None
    if shell_flag and args[0].rsplit("/", 1)[-1] in SHELLS:
        return (args[2],)
    return (args,)


def commands(ins: Instruction) -> list[tuple[str, ...]]:
    """Each command a RUN runs, as words, shell separators honoured."""
    if ins.keyword != "RUN":
        return []
    found: list[tuple[str, ...]] = []
    for line in run_lines(ins):
        if isinstance(line, tuple):
            found.append(line)
            continue
        for segment in SEGMENT.split(line.replace("\\\n", " ")):
            try:
                words = tuple(shlex.split(segment, posix=True))
            except ValueError:
                words = tuple(segment.split())
            if words:
                found.append(words)
    return found


def _program(words: tuple[str, ...]) -> tuple[str, ...]:
    """The command from its program on: assignments, ``sudo`` and the like skipped, and
    ``python -m pip`` read as ``pip``."""
    rest = list(words)
    while rest and ("=" in rest[0] and not rest[0].startswith("-") or rest[0] in PREFIXES):
        rest.pop(0)
    if rest:
        rest[0] = rest[0].rsplit("/", 1)[-1]
    if len(rest) >= 3 and rest[0].startswith("python") and rest[1] == "-m":
        rest = rest[2:]
    return tuple(rest)


def _positional(words: Sequence[str]) -> list[str]:
    """Arguments that are not options (nor an option's value)."""
    found, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in NPM_VALUE_FLAGS:
            skip = True
        elif not word.startswith("-"):
            found.append(word)
    return found


def _requirement_file(words: Sequence[str]) -> str | None:
    for k, word in enumerate(words):
        if word in ("-r", "--requirement") and k + 1 < len(words):
            return words[k + 1]
        if word.startswith("--requirement="):
            return word.split("=", 1)[1]
        if word.startswith("-r") and len(word) > 2 and not word.startswith("--"):
            return word[2:]
    return None


def _install(ins: Instruction, words: tuple[str, ...], extra: Iterable[str]) -> Install | None:
    cmd = _program(words)
    if len(cmd) < 1:
        return None
    tool, sub, rest = cmd[0], (cmd[1] if len(cmd) > 1 else ""), cmd[2:]
    if tool == "npm" and sub in NPM_INSTALLS:
        global_ = any(w in ("-g", "--global") for w in rest)
        named = _positional(rest) or global_ or sub == "add"
        return Install(ins, "npm", cmd, None if named else "package.json")
    if tool == "npm" and sub == "prune":  # leaves the modules package.json lists
        return Install(ins, "npm", cmd, "package.json")
    if tool in ("yarn", "pnpm") and (sub in ("", "install", "i") or sub.startswith("-")):
        return Install(ins, tool, cmd, "package.json")
    if re.fullmatch(r"pip[0-9.]*", tool) and sub == "install":
        return Install(ins, "pip", cmd, _requirement_file(rest))
    if tool in ("poetry", "pipenv") and sub in ("install", "sync"):
        return Install(ins, tool, cmd, "pyproject.toml" if tool == "poetry" else "Pipfile")
    for command in extra:
        wanted = tuple(command.split())
        if wanted and cmd[: len(wanted)] == wanted and wanted[0] not in KNOWN_TOOLS:
            return Install(ins, wanted[0], cmd, "")
    return None


KNOWN_TOOLS = ("npm", "yarn", "pnpm", "pip", "pip3", "python", "python3", "poetry", "pipenv")


def installs(ins: Instruction, extra: Iterable[str] = ()) -> tuple[Install, ...]:
    """The dependency installs of a RUN (shell or exec form, anywhere in the line).

    ``extra``: the lab's install commands for tools this module does not know (``bundle
    install``); the known ones (npm, yarn, pnpm, pip, poetry, pipenv) are read here."""
    extra = tuple(extra)
    return tuple(i for w in commands(ins) if (i := _install(ins, w, extra)) is not None)


def installs_manifest(ins: Instruction, extra: Iterable[str] = ()) -> bool:
    """True when this RUN installs the dependencies a manifest lists."""
    return any(i.manifest is not None for i in installs(ins, extra))


# -- COPY sources ----------------------------------------------------------------------------


def sources(ins: Instruction) -> tuple[str, ...]:
    """The source arguments of a COPY/ADD (all but the destination)."""
    return ins.args[:-1] if len(ins.args) > 1 else ()


def from_context(ins: Instruction) -> bool:
    """A COPY/ADD that takes files from the build context (not ``--from``)."""
    return ins.keyword in ("COPY", "ADD") and not any(f.startswith("--from") for f in ins.flags)


def _clean(source: str) -> str:
    clean = source.strip()
    while clean.startswith("./"):
        clean = clean[2:]
    return clean.lstrip("/").rstrip("/")


def _whole(source: str) -> bool:
    return _clean(source) in ("", ".", "*")


def source_matches(source: str, filename: str) -> bool:
    """Docker's match of one COPY source against a file at the context's root: the source
    names it, is a glob matching it, or is the whole context."""
    clean = _clean(source)
    if _whole(source):
        return True
    return "/" not in clean and (clean == filename or fnmatch.fnmatchcase(filename, clean))


def brings(ins: Instruction, filename: str) -> bool:
    """True when this COPY/ADD brings ``filename`` (at the context's root) from the context."""
    return from_context(ins) and any(source_matches(s, filename) for s in sources(ins))


def brings_other_than(
    ins: Instruction, deps_files: Sequence[str], context: Sequence[str] | None = None
) -> bool:
    """True when this COPY/ADD brings from the context anything but dependency manifests.

    ``context``: the names at the context's root, when known: a glob brings what it matches
    there. Unknown, a glob that matches a manifest name is taken as copying manifests."""
    if not from_context(ins):
        return False
    names = {d.rsplit("/", 1)[-1] for d in deps_files}
    for src in sources(ins):
        clean = _clean(src)
        if _whole(src) or "/" in clean:
            return True
        if not GLOB.search(clean):
            if clean not in names:
                return True
            continue
        if context is not None:
            if any(fnmatch.fnmatchcase(n, clean) and n not in names for n in context):
                return True
        elif not any(fnmatch.fnmatchcase(n, clean) for n in names):
            return True
    return False

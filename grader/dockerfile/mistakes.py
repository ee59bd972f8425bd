"""Pure detectors of common mistakes: unpinned bases, secrets, npm install, labels, context."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.dockerfile.resolve import global_args, installs, lineage, substitute
from grader.facts import ContextEntry, ContextFacts, DockerfileFacts, Instruction, Stage

# -- base images -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Unpinned:
    """A FROM whose image is not pinned."""

    instruction: Instruction
    """The FROM."""
    reference: str
    """The image reference, build arguments substituted."""
    reason: str
    """``no_tag``, ``latest``, ``unresolved`` (a build argument with no default), ``no_digest``."""


def split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """``registry:5000/repo:tag@sha256:...`` -> (name, tag, digest)."""
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        tag = last.split(":", 1)[1]
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name, tag, digest or None


def _unpinned_reason(reference: str, require_digest: bool) -> str | None:
    _, tag, digest = split_reference(reference)
    if digest:
        return None
    if require_digest:
        return "no_digest"
    if tag is None:
        return "no_tag"
    return "latest" if tag == "latest" else None


def unpinned_bases(facts: DockerfileFacts, require_digest: bool = False) -> list[Unpinned]:
    """Every stage's FROM that names no tag, ``latest``, or (when asked) no digest.

    ``scratch`` and earlier stages' aliases are not images and are never reported.
    """
    args = global_args(facts)
    aliases = {"scratch"}
    found = []
    for stage in facts.stages:
        ins = stage.instructions[0]
        reference = substitute(stage.base, args)
        if not reference:
            found.append(Unpinned(ins, stage.base, "unresolved"))
        elif reference.lower() not in aliases:
            reason = _unpinned_reason(reference, require_digest)
            if reason is not None:
                found.append(Unpinned(ins, reference, reason))
        if stage.name:
            aliases.add(stage.name.lower())
    return found


# -- secrets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """A variable whose name says it holds a secret."""

    name: str
    """The variable."""
    where: str
    """``ENV``, ``ARG`` (Dockerfile) or ``image`` (the final image's environment)."""
    line: int | None
    """Dockerfile line, for ENV and ARG."""
    length: int
    """Length of its value (never the value itself)."""


def mask(length: int) -> str:
    """What a report shows in place of a secret's value."""
    return "******" if length else "(empty)"


def env_pairs(ins: Instruction) -> list[tuple[str, str]]:
    """The variables an ENV or ARG sets: ``ENV A=1 B=2``, ``ENV A 1``, ``ARG A``."""
    words = list(ins.args)
    if ins.keyword == "ENV" and words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    pairs = []
    for word in words:
        name, _, value = word.partition("=")
        pairs.append((name, value))
    return pairs


def is_secret_name(name: str, fragments: list[str], allowed: list[str]) -> bool:
    """True when the name holds one of the fragments (case-insensitive) and is not allowed."""
    upper = name.upper()
    return name not in allowed and any(f.upper() in upper for f in fragments)


def secrets(
    facts: DockerfileFacts | None, env: dict[str, str], fragments: list[str], allowed: list[str]
) -> list[Secret]:
    """Secrets set in ENV/ARG of the Dockerfile, then those of the image's environment not
    already named there."""
    found: list[Secret] = []
    for ins in facts.instructions if facts else ():
        if ins.keyword not in ("ENV", "ARG"):
            continue
        for name, value in env_pairs(ins):
            if is_secret_name(name, fragments, allowed):
                found.append(Secret(name, ins.keyword, ins.line, len(value)))
    named = {s.name for s in found}
    for name, value in sorted(env.items()):
        if name not in named and value and is_secret_name(name, fragments, allowed):
            found.append(Secret(name, "image", None, len(value)))
    return found


def describe_secret(secret: Secret) -> str:
    """``line 5: ENV API_TOKEN=******`` / ``image: API_TOKEN=******``, never the value."""
    where = f"line {secret.line}: {secret.where}" if secret.line else "image:"
    return f"{where} {secret.name}={mask(secret.length)}"


ASSIGNMENT = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S+)")
LEGACY_ENV = re.compile(r"\b(ENV|ARG)\s+([A-Za-z_][A-Za-z0-9_]*)\s+([^=\s].*)$", re.MULTILINE)


def mask_secret_values(text: str, fragments: list[str], allowed: list[str]) -> str:
    """``text`` (a build log) with the values of secret-named variables replaced by ******:
    ``ENV API_TOKEN="abc"`` -> ``ENV API_TOKEN=******``; other assignments are kept."""

    def assignment(match: re.Match[str]) -> str:
        name = match.group(1)
        if not is_secret_name(name, fragments, allowed):
            return match.group(0)
        return f"{name}={mask(len(match.group(2)))}"

    def legacy(match: re.Match[str]) -> str:
        keyword, name = match.group(1), match.group(2)
        if not is_secret_name(name, fragments, allowed):
            return match.group(0)
        return f"{keyword} {name} {mask(len(match.group(3)))}"

    return LEGACY_ENV.sub(legacy, ASSIGNMENT.sub(assignment, text))


# -- npm -------------------------------------------------------------------------------------


def npm_install_from_manifest(ins: Instruction) -> bool:
    """True for a RUN with ``npm install`` / ``npm i`` that installs what package.json lists
    (no package named): ``npm ci`` would do it reproducibly from the lockfile."""
    return any(
        i.tool == "npm" and i.manifest is not None and i.words[1] not in ("ci", "prune")
        for i in installs(ins)
    )


# -- labels ----------------------------------------------------------------------------------


def label_keys(ins: Instruction) -> set[str]:
    """The keys a LABEL sets (``LABEL a=1 "b"="2"``, legacy ``LABEL a 1``)."""
    words = list(ins.args)
    if words and "=" not in words[0]:
        return {words[0]}
    return {w.split("=", 1)[0].strip("\"'") for w in words if "=" in w}


def ancestors(facts: DockerfileFacts, stage: Stage) -> set[int]:
    """Indexes of the stages a stage is built FROM (through aliases), itself included."""
    return {s.index for s in lineage(facts, stage)}


def build_stage_labels(facts: DockerfileFacts, key: str) -> list[Instruction]:
    """LABELs setting ``key`` in stages the final image does not inherit from."""
    final = facts.final_stage
    if final is None:
        return []
    inherited = ancestors(facts, final)
    return [
        i
        for i in facts.instructions
        if i.keyword == "LABEL" and i.stage not in inherited and key in label_keys(i)
    ]


# -- build context ---------------------------------------------------------------------------


def heavy_entries(context: ContextFacts, names: list[str], big_bytes: int) -> list[ContextEntry]:
    """Folders named like ``names`` (or Python venvs) and files of ``big_bytes`` or more that
    are sent in the context; the outermost only, largest first."""
    chosen: list[ContextEntry] = []
    candidates = [
        e
        for e in context.entries
        if (e.is_dir and (e.path.rsplit("/", 1)[-1] in names or e.is_venv))
        or (not e.is_dir and e.bytes >= big_bytes)
    ]
    for entry in sorted(candidates, key=lambda e: e.path.count("/")):
        if not any(entry.path.startswith(c.path + "/") for c in chosen if c.is_dir):
            chosen.append(entry)
    return sorted(chosen, key=lambda e: (-e.bytes, e.path))


def size_text(size: int) -> str:
    """Bytes as a short figure: ``812 B``, ``14.2 kB``, ``183.0 MB``."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1e3:.1f} kB"
    return f"{size / 1e6:.1f} MB"

"""Integrity signal: normalised fingerprints of what students wrote, and near-duplicate pairs.

At grading time each submission gets a compact :class:`Fingerprint`: hashes of k-grams of
normalised tokens, one set for its Dockerfiles and one for the files the student wrote (the
lab's given files are left out, and the lab's Dockerfile template is subtracted). At dashboard
time :func:`similar_pairs` compares the fingerprints of a class, after discarding the k-grams
that most of the class shares (the lab's skeleton: only what is distinctive can be a copy).

Normalisation, so that a copy cannot hide behind cosmetics:

* code files: comments dropped, identifiers -> ``ID`` (keywords kept), strings and numbers ->
  ``LIT``, whitespace and layout ignored; k-grams then winnowed (Schleimer et al., 2003);
* Dockerfiles: comments, blank lines, line continuations, quotes and brackets (exec vs shell
  form) dropped, keywords upper-cased, the names the student declares (stage aliases, ARG and
  ENV names) -> ``ID``; paths, commands and packages are the content of a Dockerfile, so
  they are kept.

It is information for the instructor, never a verdict.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.intake.submission import IGNORED_DIRS, inside

VERSION = 1
"""Bumped when the normalisation changes (fingerprints of other versions are not compared)."""
K_DOCKERFILE = 5
"""Tokens per k-gram in Dockerfiles (short files: every k-gram is kept)."""
K_CODE = 8
"""Tokens per k-gram in code files."""
WINDOW = 4
"""Winnowing window for code files (guarantees a match of WINDOW + K_CODE - 1 tokens is seen)."""
MAX_FILE_BYTES = 256_000
MAX_FILES = 200
MAX_HASHES = 4000
"""Bounds: a submission's fingerprint stays small whatever it holds."""
CODE_SUFFIXES = frozenset(
    {".py", ".js", ".mjs", ".cjs", ".ts", ".jsx", ".tsx", ".sh", ".go", ".java", ".rb", ".php"}
)
HASH_COMMENTS = frozenset({".py", ".sh", ".rb"})
DATA_NAMES = frozenset({"package.json", "requirements.txt", ".dockerignore", "docker-compose.yml"})
"""Files that are not code but are written by the student (compared as words)."""
SKIPPED_NAMES = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json", "submission.toml"}
)
"""Generated files, and the student's identity."""
_KEYWORDS = """and as assert async await break case catch class const continue def del default
do elif else except export extends false finally for from function global if import in instanceof
is lambda let new nonlocal none not null or pass raise return self static super switch this throw
true try typeof undefined var void while with yield require module exports echo then fi done esac"""
KEYWORDS = frozenset(_KEYWORDS.split())
"""Language words kept as they are (an identifier renamed is ID, a keyword is structure)."""

_CODE_HASH = re.compile(
    r"""(?P<c>\#[^\n]*)|(?P<s>\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
    |(?P<n>\d[\w.]*)|(?P<i>[A-Za-z_$][\w$]*)|(?P<p>\S)""",
    re.X,
)
_CODE_SLASH = re.compile(
    r"""(?P<c>//[^\n]*|/\*[\s\S]*?\*/)|(?P<s>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)
    |(?P<n>\d[\w.]*)|(?P<i>[A-Za-z_$][\w$]*)|(?P<p>\S)""",
    re.X,
)
_WORD = re.compile(r"\$\{?\w+\}?|[\w./@:+=-]+|[^\s\w\"'\[\],]")


@dataclass(frozen=True)
class Fingerprint:
    """Hashed, normalised k-grams of one submission's own work."""

    dockerfile: frozenset[int]
    """K-gram hashes of its Dockerfiles, the lab's template subtracted."""
    files: frozenset[int]
    """Winnowed k-gram hashes of the files the student wrote (not the lab's given files)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for report.json ``facts["fingerprint"]``."""
        return {"v": VERSION, "dockerfile": sorted(self.dockerfile), "files": sorted(self.files)}

    @classmethod
    def from_dict(cls, data: object) -> Fingerprint | None:
        """Inverse of :meth:`to_dict`; None for a missing or other-version fingerprint."""
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return None
        try:
            return cls(frozenset(map(int, data["dockerfile"])), frozenset(map(int, data["files"])))
        except (KeyError, TypeError, ValueError):
            return None


def code_tokens(text: str, suffix: str) -> list[str]:
    """Tokens of a code file: comments dropped, identifiers ID, literals LIT."""
    pattern = _CODE_HASH if suffix in HASH_COMMENTS else _CODE_SLASH
    tokens = []
    for match in pattern.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "c":
            continue
        if kind in ("s", "n"):
            tokens.append("LIT")
        elif kind == "i":
            tokens.append(value if value.lower() in KEYWORDS else "ID")
        else:
            tokens.append(value)
    return tokens


def dockerfile_tokens(text: str) -> list[str]:
    """Tokens of a Dockerfile: layout, comments and quoting dropped, declared names ID."""
    joined = re.sub(r"\\[ \t]*\r?\n", " ", text.replace("\r\n", "\n"))
    lines = [ln.strip() for ln in joined.split("\n")]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    declared: set[str] = set()
    for line in lines:
        words = line.split()
        keyword = words[0].upper()
        if keyword == "FROM" and len(words) >= 4 and words[-2].lower() == "as":
            declared.add(words[-1].lower())
        elif keyword in ("ARG", "ENV"):
            declared.update(m.lower() for m in re.findall(r"(\w+)=", line))
            if keyword == "ARG" or "=" not in words[1]:
                declared.add(words[1].split("=")[0].lower())
    tokens: list[str] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        tokens.append(keyword.upper())
        for word in _WORD.findall(rest.lower()):
            name = word.strip("${}")
            if name in declared:
                tokens.append("ID")
            elif word.startswith("--from=") and word[7:] in declared:
                tokens.append("--from=ID")
            elif word.split("=")[0] in declared:
                tokens.append("ID=" + word.partition("=")[2])
            else:
                tokens.append(word)
    return tokens


def data_tokens(text: str) -> list[str]:
    """Tokens of a data file the student wrote (package.json...): its words, lower-cased."""
    return re.findall(r"[\w.@/^~<>=:-]+", text.lower())


def _hash(gram: Sequence[str]) -> int:
    digest = hashlib.blake2b("\x1f".join(gram).encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def kgram_hashes(tokens: Sequence[str], k: int) -> list[int]:
    """Hashes of every k-gram, in order (one hash of the whole when shorter than k)."""
    if not tokens:
        return []
    if len(tokens) <= k:
        return [_hash(tokens)]
    return [_hash(tokens[i : i + k]) for i in range(len(tokens) - k + 1)]


def winnow(hashes: Sequence[int], window: int = WINDOW) -> set[int]:
    """The minimum of every window of hashes (robust, position-independent selection)."""
    if len(hashes) <= window:
        return set(hashes)
    return {min(hashes[i : i + window]) for i in range(len(hashes) - window + 1)}


def _student_files(root: Path, given: frozenset[str]) -> Iterable[Path]:
    count = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if IGNORED_DIRS.intersection(rel.parts) or any(p.startswith(".") for p in rel.parts[:-1]):
            continue
        if rel.as_posix() in given or path.name in SKIPPED_NAMES:
            continue
        if path.is_symlink() or not path.is_file() or not inside(root, path):
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            continue
        count += 1
        if count > MAX_FILES:
            return
        yield path


def is_dockerfile(name: str) -> bool:
    """True for ``Dockerfile``, ``dockerfile``, ``Dockerfile.single``, ``x.dockerfile``..."""
    lower = name.lower()
    return lower == "dockerfile" or lower.startswith("dockerfile.") or lower.endswith(".dockerfile")


def fingerprint(root: Path, given_files: Iterable[str] = (), template: str = "") -> dict[str, Any]:
    """The fingerprint of the submission in ``root``, as report.json data (never raises)."""
    try:
        return compute(root, given_files, template).to_dict()
    except OSError:  # an unreadable folder: no signal rather than no report
        return {}


def compute(root: Path, given_files: Iterable[str] = (), template: str = "") -> Fingerprint:
    """The fingerprint of the submission in ``root``."""
    docker: set[int] = set()
    files: set[int] = set()
    for path in _student_files(root, frozenset(given_files)):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        suffix = path.suffix.lower()
        if is_dockerfile(path.name):
            docker.update(kgram_hashes(dockerfile_tokens(text), K_DOCKERFILE))
        elif suffix in CODE_SUFFIXES:
            files.update(winnow(kgram_hashes(code_tokens(text, suffix), K_CODE)))
        elif path.name in DATA_NAMES:
            files.update(kgram_hashes(data_tokens(text), K_DOCKERFILE))
    docker -= set(kgram_hashes(dockerfile_tokens(template), K_DOCKERFILE)) if template else set()
    return Fingerprint(
        frozenset(sorted(docker)[:MAX_HASHES]), frozenset(sorted(files)[:MAX_HASHES])
    )


@dataclass(frozen=True)
class Pair:
    """Two submissions whose own work overlaps more than the threshold."""

    a: str
    """One submission."""
    b: str
    """The other (a < b)."""
    part: str
    """``dockerfile`` or ``files``."""
    similarity: float
    """Shared distinctive k-grams over the smaller of the two sets (0..1)."""
    shared: int
    """How many distinctive k-grams they share."""


THRESHOLD = 0.7
"""Similarity from which a pair is shown."""
MIN_SHARED = 8
"""Fewest shared distinctive k-grams for a pair to be shown (a few lines in common mean nothing)."""
COMMON_SHARE = 0.5
"""A k-gram found in at least this share of the class (and in 3 or more) is the lab's skeleton."""


def similar_pairs(
    prints: Mapping[str, Fingerprint],
    threshold: float = THRESHOLD,
    min_shared: int = MIN_SHARED,
) -> list[Pair]:
    """Pairs of submissions whose distinctive k-grams overlap, most similar first."""
    pairs: list[Pair] = []
    names = sorted(prints)
    for part in ("dockerfile", "files"):
        sets = {n: getattr(prints[n], part) for n in names}
        seen = Counter(h for s in sets.values() for h in s)
        common_from = max(3, math.ceil(COMMON_SHARE * len(names)))
        own = {n: {h for h in s if seen[h] < common_from} for n, s in sets.items()}
        holders: dict[int, list[str]] = defaultdict(list)
        for n in names:
            for h in own[n]:
                holders[h].append(n)
        shared: Counter[tuple[str, str]] = Counter()
        for group in holders.values():
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    shared[(a, b)] += 1
        for (a, b), count in shared.items():
            similarity = count / min(len(own[a]), len(own[b]))
            if count >= min_shared and similarity >= threshold:
                pairs.append(Pair(a, b, part, round(similarity, 2), count))
    return sorted(pairs, key=lambda p: (-p.similarity, -p.shared, p.a, p.b, p.part))

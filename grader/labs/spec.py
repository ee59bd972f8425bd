"""LabSpec/CheckSpec frozen dataclasses; load and strictly validate a lab TOML; find built-in labs.

A lab file is read in two steps: ``schema_version`` first, then the loader for that version,
which refuses unknown keys, wrong types and unknown check ids (a silently ignored key would be
a silently wrong grade).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from grader.engine import cgroups
from grader.errors import LabFileError, UsageError
from grader.labs.params import PARAMS

LABS_DIR = Path(__file__).parent
CHECK_KEYS = frozenset({"points", "mode"})
"""Keys every check table accepts besides its own parameters."""
LANGS = ("fr", "en")
BUILD_FAILURE_MODES = ("dockerfile", "not_run")
"""Values of a lab's ``on_build_failure``."""
BUILDERS = ("auto", "buildkit", "classic")
"""What the lab's ``builder`` key accepts."""


@dataclass(frozen=True)
class CheckSpec:
    """One check of a lab: its points, its mode and its parameters."""

    id: str
    """Check id, e.g. ``http.root_text``."""
    points: float
    """Points the check is worth when scored."""
    mode: Literal["scored", "advice"]
    """``advice`` checks are shown but never scored."""
    params: Any
    """Instance of the check's parameter dataclass (see ``grader.labs.params``)."""

    @property
    def max_score(self) -> float:
        """Points available (0 for advice)."""
        return self.points if self.mode == "scored" else 0.0


@dataclass(frozen=True)
class Limits:
    """Time and size bounds of a lab; command-line flags override them."""

    build_timeout_s: float = 300.0
    """Longest a build may take."""
    start_timeout_s: float = 30.0
    """Longest the app may take to answer its first HTTP request."""
    http_timeout_s: float = 5.0
    """Longest one HTTP request may take."""
    log_limit_bytes: int = 64_000
    """Build and container logs kept in reports are cut to this size (head and tail)."""
    submission_timeout_s: float = 900.0
    """Longest one submission may take, all stages together."""
    context_limit_bytes: int = 100_000_000
    """A build context (the folder, less .dockerignore) larger than this is refused."""
    memory: str = "512m"
    """Memory limit of the student's container (swap included)."""
    pids: int = 256
    """Most processes and threads in the student's container."""
    cpus: float = 1.0
    """CPU share of the student's container, in cores."""
    build_memory: str = cgroups.DEFAULT_MEMORY
    """Memory of each build, swap included (every RUN step together)."""
    build_pids: int = cgroups.DEFAULT_PIDS
    """Most processes and threads of each build at once."""
    build_cpus: float = cgroups.DEFAULT_CPUS
    """CPU time of each build, in cores."""
    image_limit_bytes: int = 5_000_000_000
    """A built image larger than this is not run (and removed at once)."""


@dataclass(frozen=True)
class Integrity:
    """What the lab hands out to everyone, left out of the near-duplicate signal."""

    given_files: list[str] = dataclasses.field(default_factory=list)
    """Files the lab text gives (paths from the submission's root): identical for all."""
    dockerfile_template: str = ""
    """The Dockerfile the lab text gives, if any: what students share with it is not a copy."""


@dataclass(frozen=True)
class LabSpec:
    """A lab: what to detect, the app's facts, limits and the checks that apply."""

    id: str
    """Lab id, e.g. ``tp6``."""
    title: str
    """Human title."""
    lang: str
    """Default feedback language."""
    port: int
    """Port the app must listen on inside the container."""
    path: str
    """Path of the page to probe."""
    detect_files: tuple[str, ...]
    """Files whose presence identifies a submission of this lab (``--lab auto``)."""
    limits: Limits
    """Time and size bounds."""
    checks: tuple[CheckSpec, ...]
    """Checks in rubric order."""
    source: Path
    """The lab file."""
    integrity: Integrity = dataclasses.field(default_factory=lambda: Integrity())
    """What the integrity signal leaves out (the files and Dockerfile the lab gives)."""
    detect_folder_names: tuple[str, ...] = ()
    """Other names of the lab's folder in a student's repository (``[detect] folder_names``),
    besides its id, for finding the lab's folder (``grader.intake.discover``)."""
    on_build_failure: Literal["dockerfile", "not_run"] = "dockerfile"
    """When the image does not build: judge the checks whose subject the Dockerfile states
    (label, USER, ENTRYPOINT/CMD form, EXPOSE) from its final stage (``dockerfile``), or
    leave them not run (``not_run``)."""
    builder: str = "auto"
    """``auto``: BuildKit where the engine offers it, the classic builder otherwise; or
    ``buildkit`` / ``classic`` (``--builder`` overrides it)."""

    def check(self, check_id: str) -> CheckSpec | None:
        """The spec of one check, or None when this lab does not use it."""
        return next((c for c in self.checks if c.id == check_id), None)


def _type_ok(value: object, hint: object) -> bool:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(hint, type) and isinstance(value, hint)


def _build(
    cls: type,
    table: Mapping[str, Any],
    path: str,
    key_path: str,
    extra: frozenset[str] = frozenset(),
) -> Any:
    """Instantiate dataclass ``cls`` from ``table``, refusing unknown keys and wrong types.

    ``extra`` names keys valid at this place but read by the caller (shown in the message).
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key, value in table.items():
        if key not in names:
            known = ", ".join(sorted(names | extra)) or "none"
            raise LabFileError(path, f"{key_path}.{key}", f"unknown key (known keys: {known})")
        if not _type_ok(value, hints[key]):
            raise LabFileError(path, f"{key_path}.{key}", f"expected {hints[key]}, got {value!r}")
    return cls(**{k: float(v) if hints[k] is float else v for k, v in table.items()})


def _table(data: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise LabFileError(path, key, "must be a table")
    return value


def _load_v1(data: dict[str, Any], path: str) -> LabSpec:
    allowed = {"schema_version", "id", "title", "lang", "detect", "app", "limits", "checks"}
    allowed |= {"integrity"}  # optional: what the near-duplicate signal leaves out
    allowed |= {"on_build_failure"}  # optional: judge the Dockerfile when the build fails
    allowed |= {"builder"}  # optional: auto (default), buildkit or classic
    for key in data:
        if key not in allowed:
            raise LabFileError(path, key, f"unknown key (known keys: {', '.join(sorted(allowed))})")
    for key in ("id", "title"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise LabFileError(path, key, "required, a non-empty string")
    lang = data.get("lang", "fr")
    if lang not in LANGS:
        raise LabFileError(path, "lang", f"must be one of {', '.join(LANGS)}")
    on_build_failure = data.get("on_build_failure", "dockerfile")
    if on_build_failure not in BUILD_FAILURE_MODES:
        modes = " or ".join(repr(m) for m in BUILD_FAILURE_MODES)
        raise LabFileError(path, "on_build_failure", f"must be {modes}")
    builder = data.get("builder", "auto")
    if builder not in BUILDERS:
        raise LabFileError(path, "builder", f"must be one of {', '.join(BUILDERS)}")
    detect = _build(_Detect, _table(data, "detect", path), path, "detect")
    app = _build(_App, _table(data, "app", path), path, "app")
    limits = _build(Limits, _table(data, "limits", path), path, "limits")
    _in_range(path, app, limits)
    checks = [_check(cid, t, path) for cid, t in _table(data, "checks", path).items()]
    if not checks:
        raise LabFileError(path, "checks", "a lab needs at least one check")
    return LabSpec(
        id=data["id"],
        title=data["title"],
        lang=lang,
        port=app.port,
        path=app.path,
        detect_files=tuple(detect.all_files),
        limits=limits,
        checks=tuple(checks),
        source=Path(path),
        integrity=_build(Integrity, _table(data, "integrity", path), path, "integrity"),
        detect_folder_names=tuple(detect.folder_names),
        on_build_failure=on_build_failure,
        builder=builder,
    )


RANGES: tuple[tuple[str, str, float, float], ...] = (
    ("app", "port", 0, 65535),  # 0: not given by the lab, taken from EXPOSE or observed
    ("limits", "build_timeout_s", 1, 24 * 3600),
    ("limits", "start_timeout_s", 1, 3600),
    ("limits", "http_timeout_s", 0.1, 600),
    ("limits", "log_limit_bytes", 1000, 100_000_000),
    ("limits", "submission_timeout_s", 5, 24 * 3600),
    ("limits", "context_limit_bytes", 1000, 10_000_000_000),
    ("limits", "pids", 16, 100_000),
    ("limits", "cpus", 0.1, 64),
    ("limits", "build_pids", 16, 100_000),
    ("limits", "build_cpus", 0.1, 64),
    ("limits", "image_limit_bytes", 1_000_000, 1_000_000_000_000),
)
"""(table, key, lowest, highest) of the lab's numbers."""


def _in_range(path: str, app: _App, limits: Limits) -> None:
    tables = {"app": app, "limits": limits}
    for table, key, low, high in RANGES:
        value = getattr(tables[table], key)
        if not low <= value <= high:
            raise LabFileError(
                path, f"{table}.{key}", f"{value} is not between {low:g} and {high:g}"
            )
    if not re.fullmatch(r"\d+[kmg]?", limits.memory.lower()):
        raise LabFileError(path, "limits.memory", f"{limits.memory!r} is not a size like 512m")
    if not re.fullmatch(r"\d+[kmg]?", limits.build_memory.lower()):
        raise LabFileError(path, "limits.build_memory", f"{limits.build_memory!r} is not a size")
    if cgroups.size_bytes(limits.build_memory) < 64 << 20:
        raise LabFileError(path, "limits.build_memory", "less than 64m: no build would run")
    if not app.path.startswith("/"):
        raise LabFileError(path, "app.path", f"{app.path!r} must start with /")


def _check(check_id: str, table: Any, path: str) -> CheckSpec:
    key_path = f'checks."{check_id}"'
    if check_id not in PARAMS:
        raise LabFileError(path, key_path, "no rubric check has this id (see grade --list-checks)")
    if not isinstance(table, dict):
        raise LabFileError(path, key_path, "must be a table")
    params = dict(table)
    points = params.pop("points", None)
    mode = params.pop("mode", "scored")
    params_obj = _build(PARAMS[check_id], params, path, key_path, CHECK_KEYS)  # a typo first
    if not _type_ok(points, float) or points < 0:
        raise LabFileError(path, f"{key_path}.points", "required, a number >= 0")
    if mode not in ("scored", "advice"):
        raise LabFileError(path, f"{key_path}.mode", "must be 'scored' or 'advice'")
    return CheckSpec(check_id, float(points), mode, params_obj)


@dataclass(frozen=True)
class _Detect:
    all_files: list[str] = dataclasses.field(default_factory=list)
    folder_names: list[str] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class _App:
    port: int = 8000
    path: str = "/"


LOADERS: dict[int, Callable[[dict[str, Any], str], LabSpec]] = {1: _load_v1}
"""schema_version -> loader."""


def load_lab_file(path: Path) -> LabSpec:
    """Load and validate one lab file.

    Raises:
        LabFileError: the file is unreadable, not TOML, of an unknown version or invalid.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LabFileError(str(path), "", str(exc)) from exc
    version = data.get("schema_version")
    if version not in LOADERS:
        known = ", ".join(map(str, LOADERS))
        raise LabFileError(str(path), "schema_version", f"{version!r} unknown (known: {known})")
    return LOADERS[version](data, str(path))


def rubric_dir() -> Path:
    """The rubric's folder: ``grader/_checks`` when installed, ``checks/`` in a clone."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_checks"
    return installed if installed.is_dir() else package.parent / "checks"


def builtin_labs() -> dict[str, Path]:
    """Built-in lab ids and their files."""
    return {p.stem: p for p in sorted(LABS_DIR.glob("*.toml"))}


def load_lab(ref: str) -> LabSpec:
    """Load a lab by built-in id or by path to a TOML file.

    Raises:
        UsageError: no such lab.
        LabFileError: the lab file is invalid.
    """
    labs = builtin_labs()
    if ref in labs:
        return load_lab_file(labs[ref])
    path = Path(ref)
    if path.suffix == ".toml" and path.is_file():
        return load_lab_file(path)
    raise UsageError(f"unknown lab {ref!r}: use one of {', '.join(labs)} or a path to a .toml file")


def detect_lab(root: Path) -> LabSpec | None:
    """The built-in lab whose detection files are all present in ``root``, if exactly one."""
    found = []
    for path in builtin_labs().values():
        lab = load_lab_file(path)
        if lab.detect_files and all((root / f).exists() for f in lab.detect_files):
            found.append(lab)
    return found[0] if len(found) == 1 else None


def choose_lab(root: Path, ref: str) -> LabSpec | None:
    """The lab to grade ``root`` against: ``ref``, or for ``auto`` the detected lab, or the
    only built-in lab when there is just one; None when it cannot be told.

    Raises:
        UsageError, LabFileError: ``ref`` names no valid lab.
    """
    if ref != "auto":
        return load_lab(ref)
    found = detect_lab(root)
    labs = builtin_labs()
    if found is None and len(labs) == 1:
        return load_lab_file(next(iter(labs.values())))
    return found

"""Per-check parameter dataclasses: each field's default and help text, the lab file's schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeVar, cast

T = TypeVar("T")


def _p(default: T, help: str) -> T:
    """A parameter with its default and help text (read by ``grade --explain``)."""
    if isinstance(default, list):
        items = list(default)
        return cast(T, field(default_factory=lambda: list(items), metadata={"help": help}))
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class NoParams:
    """This check takes no parameters."""


@dataclass(frozen=True)
class BaseImageParams:
    """The final stage's FROM is an official image of a family."""

    official_image: str = _p("python", "Official image repository expected after FROM.")


@dataclass(frozen=True)
class LabelParams:
    """A label is set in the final image, not empty and not the lab's placeholder."""

    label: str = _p("maintainer", "Label key that must be set in the final image.")
    placeholders: list[str] = _p(
        ["<Nom> <Prénom>"], "Values copied from the lab text that do not count as set."
    )


@dataclass(frozen=True)
class WorkdirParams:
    """The final stage sets a working directory before copying the app."""

    expected: str = _p("", "Required WORKDIR path; empty accepts any directory but /.")


@dataclass(frozen=True)
class DepsFirstParams:
    """Dependencies are copied and installed before the app code (layer cache)."""

    manifest: str = _p("requirements.txt", "The dependency manifest file.")
    install_commands: list[str] = _p(
        ["pip install", "pip3 install", "python -m pip install", "python3 -m pip install"],
        "Command fragments that count as installing the dependencies.",
    )
    deps_files: list[str] = _p(
        ["requirements.txt"],
        "Files that are dependency manifests or lockfiles; copying any other file is app code.",
    )
    stage: Literal["first", "final"] = _p(
        "final", "Which stage to look at: the first (build) stage or the final one."
    )


@dataclass(frozen=True)
class StagesParams:
    """Several stages, and a final stage that does not simply ship the build stage."""

    min_stages: int = _p(2, "Fewest build stages accepted.")


@dataclass(frozen=True)
class BuildChecksParams:
    """The build stage runs the project's test, lint or build script."""

    scripts: list[str] = _p(["test", "lint", "build"], "package.json scripts that count.")


@dataclass(frozen=True)
class ProductionDepsParams:
    """The final stage installs only the runtime dependencies."""

    flags: list[str] = _p(
        ["--only=production", "--only=prod", "--production", "--omit=dev", "--omit dev"],
        "Install options that leave development dependencies out.",
    )


@dataclass(frozen=True)
class DevDepsParams:
    """No package listed in devDependencies is installed in the final image."""

    manifest: str = _p("package.json", "The manifest listing devDependencies.")


@dataclass(frozen=True)
class UserParams:
    """The image's user and the running process are not root."""

    min_uid: int = _p(1000, "Smallest uid accepted as a non-root user.")


@dataclass(frozen=True)
class EntrypointParams:
    """The start command is in exec form (JSON array)."""

    require_entrypoint: bool = _p(
        True, "Require ENTRYPOINT (true) or accept a CMD alone in exec form (false)."
    )


@dataclass(frozen=True)
class ExposeParams:
    """EXPOSE declares the port the app really listens on."""

    require_expose: bool = _p(
        False, "Fail when EXPOSE is missing (true) or only advise it (false)."
    )


@dataclass(frozen=True)
class StatusParams:
    """An HTTP status is returned."""

    expected: int = _p(200, "Expected HTTP status.")


@dataclass(frozen=True)
class NotFoundParams:
    """An unknown path gives an HTTP error status."""

    expected: int = _p(404, "Expected HTTP status for an unknown path.")


@dataclass(frozen=True)
class TextParams:
    """The page body matches the expected text."""

    expected: str = _p("", "Text the page must hold.")
    match: Literal["contains", "exact", "regex"] = _p(
        "contains", "How to compare: contains, exact or regex."
    )
    normalize_whitespace: bool = _p(True, "Collapse runs of whitespace before comparing.")
    case_sensitive: bool = _p(True, "Compare letter case.")


@dataclass(frozen=True)
class LayerCacheParams:
    """A one-line change to the app code leaves the dependency install in the layer cache."""

    install_commands: list[str] = _p(
        ["pip install", "pip3 install", "npm ci", "npm install", "npm i ", "yarn install"]
        + ["pnpm install", "poetry install", "pipenv install"],
        "Command fragments of a RUN that installs the dependencies.",
    )
    deps_files: list[str] = _p(
        ["requirements.txt", "package.json", "package-lock.json", "npm-shrinkwrap.json"]
        + ["yarn.lock", "pnpm-lock.yaml", "pyproject.toml", "poetry.lock", "Pipfile"]
        + ["Pipfile.lock"],
        "Dependency manifests and lockfiles: never the file changed as app code.",
    )


@dataclass(frozen=True)
class StopSignalParams:
    """The app stops promptly on ``docker stop`` (SIGTERM reaches it as PID 1)."""

    grace_s: float = _p(5.0, "Seconds docker stop waits after SIGTERM before SIGKILL.")
    max_stop_s: float = _p(
        0.0, "Longest stop accepted, in seconds; 0 accepts any stop before grace_s ends."
    )


@dataclass(frozen=True)
class WasteParams:
    """The student's layers do not ship deleted files, caches or build tools."""

    max_wasted_mb: float = _p(1.0, "Most MB of wasted bytes, caches and build tools accepted.")
    min_efficiency: float = _p(0.9, "Least share (0-1) of the added bytes the image needs.")
    max_image_mb: float = _p(1500.0, "Images larger than this are not read (advice skipped).")
    top: int = _p(5, "How many of the biggest offenders to list.")


PARAMS: dict[str, type] = {
    "dockerfile.present": NoParams,
    "dockerfile.base_image": BaseImageParams,
    "dockerfile.label_maintainer": LabelParams,
    "dockerfile.workdir": WorkdirParams,
    "dockerfile.requirements_first": DepsFirstParams,
    "dockerfile.copy_not_add": NoParams,
    "build.succeeds": NoParams,
    "image.user_non_root": UserParams,
    "image.entrypoint_exec_form": EntrypointParams,
    "image.exposed_port": ExposeParams,
    "dockerfile.stages": StagesParams,
    "dockerfile.build_stage_official_node": BaseImageParams,
    "dockerfile.package_json_first": DepsFirstParams,
    "dockerfile.build_checks": BuildChecksParams,
    "dockerfile.production_deps": ProductionDepsParams,
    "image.entrypoint": EntrypointParams,
    "image.no_dev_dependencies": DevDepsParams,
    "image.size": NoParams,
    "registry.pushed": NoParams,
    "registry.runs": NoParams,
    "run.starts": NoParams,
    "http.root_status": StatusParams,
    "http.root_text": TextParams,
    "http.not_found": NotFoundParams,
    "image.layer_cache": LayerCacheParams,
    "run.stop_signal": StopSignalParams,
    "image.waste": WasteParams,
}
"""Every check id the rubric knows, with the dataclass of its parameters."""


# -- static and log diagnoses (issue 7: lint, context, pinning, secrets, npm ci, healthcheck) --


@dataclass(frozen=True)
class LintParams:
    """hadolint finds nothing at or above the failure threshold (rules the lab grades aside)."""

    ignored: list[str] = _p([], "hadolint rule ids not reported, e.g. DL3008.")
    failure_threshold: Literal["error", "warning", "info", "style", "none"] = _p(
        "warning", "Least severe level that fails the check; none only reports."
    )


@dataclass(frozen=True)
class DockerignoreParams:
    """No heavy folder or big file is sent in the build context for want of a .dockerignore."""

    heavy_dirs: list[str] = _p(
        ["node_modules", ".git", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache"],
        "Folder names that never belong in a build context (Python venvs are also recognised "
        "by their pyvenv.cfg).",
    )
    big_file_mb: float = _p(10.0, "Files at least this big (MB) count as heavy too.")


@dataclass(frozen=True)
class PinnedBaseParams:
    """Every FROM names a tag other than latest, or a digest."""

    require_digest: bool = _p(False, "Require @sha256: digests, not only tags.")


@dataclass(frozen=True)
class SecretsParams:
    """No secret in ENV or ARG (Dockerfile) nor in the final image's environment."""

    names: list[str] = _p(
        [
            "PASSWORD",
            "PASSWD",
            "TOKEN",
            "SECRET",
            "API_KEY",
            "APIKEY",
            "ACCESS_KEY",
            "PRIVATE_KEY",
            "CREDENTIAL",
        ],
        "Variable-name fragments (case-insensitive) that mark a secret.",
    )
    allowed: list[str] = _p([], "Variable names accepted anyway.")


@dataclass(frozen=True)
class NpmCiParams:
    """With a lockfile, dependencies are installed with npm ci (reproducible), not npm install."""

    lockfiles: list[str] = _p(
        ["package-lock.json", "npm-shrinkwrap.json"], "Lockfiles that make npm ci possible."
    )


PARAMS.update(
    {
        "dockerfile.lint": LintParams,
        "dockerfile.dockerignore": DockerignoreParams,
        "dockerfile.pinned_base": PinnedBaseParams,
        "image.no_secrets": SecretsParams,
        "dockerfile.npm_ci": NpmCiParams,
        "image.healthcheck": NoParams,
    }
)

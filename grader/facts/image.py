"""Facts of the built image: the build's result, its config, sizes, layer cache and waste."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildResult:
    """A successful build."""

    image_id: str
    """Full image id (``sha256:...``)."""
    log: str
    """Build output (bounded)."""
    seconds: float
    """Wall time of the build."""
    builder: str = "classic"
    """The builder that built it: ``buildkit`` or ``classic``."""


@dataclass(frozen=True)
class ImageFacts:
    """The final image's configuration, from ``docker inspect``, normalised."""

    image_id: str
    """Full image id."""
    labels: dict[str, str]
    """Image labels (``Config.Labels``)."""
    user: str
    """``Config.User`` as set (empty means root)."""
    uid: int | None
    """The user resolved to a uid through the image's ``/etc/passwd``; None when unresolvable."""
    exposed_ports: frozenset[int]
    """TCP ports from EXPOSE."""
    entrypoint: tuple[str, ...] | None
    """``Config.Entrypoint``, None when unset."""
    cmd: tuple[str, ...] | None
    """``Config.Cmd``, None when unset."""
    workdir: str
    """``Config.WorkingDir`` (empty means /)."""
    env: dict[str, str]
    """``Config.Env`` as a mapping."""
    size: int
    """Image size in bytes."""
    layers: int
    """Number of filesystem layers."""
    healthcheck: tuple[str, ...] | None = None
    """``Config.Healthcheck.Test`` (e.g. ``("CMD", "curl", ...)``); None when unset."""
    from_dockerfile: bool = False
    """True when the image did not build and these facts are what its Dockerfile states
    (``grader/dockerfile/stated.py``): the base image's own settings are unknown, uids often too."""


@dataclass(frozen=True)
class SizeFacts:
    """The final image's size against the same app built without multi-staging."""

    final_bytes: int
    """Size of the final (multi-stage) image."""
    single_bytes: int | None
    """Size of the single-stage equivalent; None when there is nothing to compare."""
    single_source: str
    """``build stage`` (the first stage built alone), ``Dockerfile.single`` or ``none``."""

    @property
    def saving_bytes(self) -> int | None:
        """Bytes saved by multi-staging."""
        return None if self.single_bytes is None else self.single_bytes - self.final_bytes

    @property
    def saving_percent(self) -> float | None:
        """Saving as a percentage of the single-stage size."""
        if not self.single_bytes or self.saving_bytes is None:
            return None
        return 100.0 * self.saving_bytes / self.single_bytes


@dataclass(frozen=True)
class CacheStep:
    """One step of the rebuild after a one-line change to the app code."""

    instruction: str
    """The instruction as the builder announced it, e.g. ``RUN pip install -r requirements.txt``."""
    line: int | None
    """Its line in the student's Dockerfile."""
    cached: bool
    """The builder said ``Using cache``."""
    seconds: float
    """Wall time of the step."""
    installs: bool
    """It installs the dependencies (pip, npm...)."""


@dataclass(frozen=True)
class CacheFacts:
    """What the layer cache kept when the app code changed by one line."""

    changed_file: str | None
    """The app file changed (relative path); None when no app file was found."""
    steps: tuple[CacheStep, ...]
    """The rebuilt steps, up to the last dependency install."""
    seconds: float
    """Wall time of the rebuild."""

    @property
    def rerun_installs(self) -> tuple[CacheStep, ...]:
        """Dependency installs that ran again instead of coming from the cache."""
        return tuple(s for s in self.steps if s.installs and not s.cached)


@dataclass(frozen=True)
class LayerRow:
    """One entry of the image's history: the instruction and the bytes its layer adds."""

    instruction: str
    """The instruction that made it (``RUN ...``, ``COPY ...``), as the student wrote it."""
    size_bytes: int
    """Bytes the layer adds."""
    base: bool
    """It comes from the base image (not the student's)."""


@dataclass(frozen=True)
class Offender:
    """Bytes the final image carries for nothing."""

    path: str
    """Path in the image (a folder for caches and deletions)."""
    size_bytes: int
    """Bytes wasted."""
    kind: str
    """``deleted``, ``overwritten``, ``pip_cache``, ``npm_cache``, ``build_tool:gcc``..."""
    instruction: str
    """The instruction whose layer added the bytes."""


@dataclass(frozen=True)
class WasteFacts:
    """Wasted bytes in the student's layers of the final image."""

    layers: tuple[LayerRow, ...]
    """Every history entry, base first."""
    scope: str
    """``student`` (base image layers excluded) or ``image`` (base not resolvable)."""
    analysed: bool
    """The layers' contents were read (False when the image was too large to read)."""
    added_bytes: int = 0
    """Bytes of the files the counted layers add."""
    wasted_bytes: int = 0
    """Bytes added in one layer and deleted or overwritten in a later one."""
    cache_bytes: int = 0
    """Package manager caches left in the image (pip, npm, apt lists...)."""
    tool_bytes: int = 0
    """Build tools (compilers, headers) and development dependencies left in the image."""
    offenders: tuple[Offender, ...] = ()
    """The biggest offenders, biggest first."""
    method: str = ""
    """How the layers were read: ``overlay2`` (their folders on this machine), ``docker save``,
    or empty when nothing was read."""

    @property
    def removable_bytes(self) -> int:
        """Bytes a better Dockerfile would not ship."""
        return self.wasted_bytes + self.cache_bytes + self.tool_bytes

    @property
    def efficiency(self) -> float:
        """Share of the added bytes the image needs: (added - removable) / added."""
        if self.added_bytes <= 0:
            return 1.0
        return max(0.0, (self.added_bytes - self.removable_bytes) / self.added_bytes)

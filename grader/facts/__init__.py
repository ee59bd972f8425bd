"""Frozen, typed facts each pipeline stage produces; checks read these, never Docker or HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Submission:
    """One student's work, located and identified."""

    name: str
    """Folder name, used as the student's id in reports."""
    root: Path
    """Folder holding the files (the build context)."""
    dockerfile: Path | None
    """The Dockerfile found, or None."""
    dockerfile_is_default_name: bool
    """False when found under a fallback name (``dockerfile``, ``Dockerfile.multi``...)."""
    files_hash: str
    """SHA-256 over the submission's relative paths and contents."""


@dataclass(frozen=True)
class Declaration:
    """What a student declares in ``submission.toml``."""

    student: str
    """The student's name, as they write it."""
    image: str
    """The image they pushed, e.g. ``user/repo:tag`` (a registry host is allowed)."""


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction."""

    keyword: str
    """Upper-case instruction name, e.g. ``COPY``."""
    value: str
    """Arguments as written, continuation lines joined."""
    line: int
    """1-based line where the instruction starts."""
    stage: int
    """Index of the stage it belongs to (0-based); -1 before the first FROM."""
    exec_form: bool
    """True when the arguments are a JSON array (exec form)."""
    args: tuple[str, ...]
    """Exec-form arguments, or the shell-form words split on whitespace."""
    flags: tuple[str, ...] = ()
    """Leading ``--flag=value`` options, e.g. ``--from=build``."""


@dataclass(frozen=True)
class Stage:
    """One build stage, from its FROM to the next."""

    index: int
    """0-based stage index."""
    base: str
    """Image reference after FROM, as written."""
    name: str | None
    """Alias given with ``AS``, if any."""
    instructions: tuple[Instruction, ...]
    """The stage's instructions, FROM included."""


@dataclass(frozen=True)
class DockerfileFacts:
    """What static analysis of the Dockerfile found."""

    path: Path
    """The Dockerfile parsed."""
    instructions: tuple[Instruction, ...]
    """Every instruction in order, all stages."""
    stages: tuple[Stage, ...]
    """Build stages in order; the last one is the final image."""
    had_bom: bool = False
    """The file started with a UTF-8 byte-order mark (accepted, stripped)."""
    had_crlf: bool = False
    """The file used Windows line endings (accepted)."""

    @property
    def final_stage(self) -> Stage | None:
        """The stage that makes the final image."""
        return self.stages[-1] if self.stages else None

    def lineage(self, stage: Stage) -> tuple[Stage, ...]:
        """``stage``, then the earlier stages it is built FROM through their aliases (a
        ``FROM build`` chain), nearest first; a loop of aliases stops the walk."""
        chain = [stage]
        while True:
            base = chain[-1].base
            parent = next((s for s in self.stages if s.name and s.name == base), None)
            if parent is None or parent in chain:
                return tuple(chain)
            chain.append(parent)


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
class Socket:
    """A TCP socket in LISTEN state seen inside a container."""

    address: str
    """IP address as text, e.g. ``0.0.0.0``, ``127.0.0.1``, ``::``."""
    port: int
    """Listening port."""

    @property
    def is_loopback(self) -> bool:
        """True when only reachable from inside the container."""
        return self.address.startswith("127.") or self.address == "::1"

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class StartResult:
    """What happened when the container was started."""

    container_id: str
    """The container (removed by the pipeline at the end)."""
    host_port: int | None
    """Port the probe connects to at ``address``: the host port Docker picked on 127.0.0.1,
    or the container's own port on its internal network."""
    ready: bool
    """The app answered HTTP within the start-up bound."""
    running: bool
    """The container was still running at the end of the wait."""
    exit_status: int | None
    """Exit status when it stopped."""
    seconds: float
    """Seconds to readiness, or waited."""
    listening: tuple[Socket, ...] | None
    """Sockets seen listening inside the container (when not ready)."""
    log_tail: str
    """Last lines of the container's output (when not ready)."""
    port: int | None = None
    """The container port that was published and probed (None when none was known)."""
    oom_killed: bool = False
    """The kernel killed it for going over its memory limit."""
    refused: bool = False
    """The engine refused to start it for the image's reasons (``log_tail`` holds its
    message): a missing or non-executable program, an unknown user."""
    address: str = "127.0.0.1"
    """Where the probe reaches the app: 127.0.0.1 (a published port), or the container's
    address on its internal network (grader.stages.isolation)."""


def outside_port(sockets: tuple[Socket, ...] | None) -> int | None:
    """The port an app serves from outside: the lowest non-loopback listening port."""
    ports = sorted(s.port for s in sockets or () if not s.is_loopback)
    return ports[0] if ports else None


@dataclass(frozen=True)
class DevPackages:
    """Which development dependencies are installed in the final image."""

    declared: tuple[str, ...]
    """Names listed in devDependencies."""
    present: tuple[str, ...]
    """Those found in the image's node_modules."""
    folder: str
    """The node_modules folder looked at."""
    method: str
    """How it was looked at: ``testinfra`` (a shell in the container) or ``archive``."""


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
class RuntimeFacts:
    """Facts observed inside the running container."""

    process_uid: int | None
    """uid of the container's main process; None when it could not be observed."""
    listening: tuple[Socket, ...] | None
    """TCP sockets in LISTEN state; None when they could not be observed."""
    still_running: bool
    """The container was still running when observed."""
    log_tail: str = ""
    """Last lines of the container's output."""

    @property
    def serving_port(self) -> int | None:
        """The port the app is seen serving on from outside."""
        return outside_port(self.listening)


@dataclass(frozen=True)
class ProbeResult:
    """One HTTP response from the container."""

    url: str
    """URL requested."""
    status: int
    """HTTP status code."""
    body: str
    """Response body, decoded and bounded."""
    elapsed_s: float
    """Time to the response."""
    headers: dict[str, str] = field(default_factory=dict)
    """Response headers."""
    text: str | None = None
    """What a browser shows of the whole (bounded) body: an HTML page's visible text (tags
    stripped, scripts and styles dropped, entities decoded), another body as is; None when
    not computed (then ``body`` stands for it)."""

    @property
    def page(self) -> str:
        """The text the checks compare: ``text``, else the body kept as evidence."""
        return self.text if self.text is not None else self.body


# -- static and log diagnoses (lint, build context, known breakages) ---------------------------


@dataclass(frozen=True)
class LintFinding:
    """One hadolint finding."""

    rule: str
    """Rule id, e.g. ``DL3020`` (``DL1000`` is a parse error)."""
    level: str
    """``error``, ``warning``, ``info`` or ``style``."""
    line: int
    """1-based Dockerfile line."""
    message: str
    """hadolint's own text (English), first line."""

    @property
    def url(self) -> str:
        """The rule's wiki page."""
        return f"https://github.com/hadolint/hadolint/wiki/{self.rule}"


@dataclass(frozen=True)
class LintFacts:
    """What hadolint found in the Dockerfile."""

    findings: tuple[LintFinding, ...]
    """Every finding, in line order."""
    version: str = ""
    """hadolint's version."""


@dataclass(frozen=True)
class ContextEntry:
    """A file or folder of the build context with what it weighs (after ``.dockerignore``)."""

    path: str
    """Path relative to the context, ``/``-separated."""
    bytes: int
    """Bytes of regular files under it."""
    files: int
    """Number of files under it."""
    is_dir: bool
    """A folder (sizes are recursive)."""
    is_venv: bool = False
    """A folder holding a ``pyvenv.cfg``: a Python virtual environment."""


@dataclass(frozen=True)
class ContextFacts:
    """The build context Docker is sent: its size and what weighs in it."""

    total_bytes: int
    """Bytes of regular files sent."""
    files: int
    """Number of files sent."""
    has_dockerignore: bool
    """A ``.dockerignore`` is at the root of the context."""
    entries: tuple[ContextEntry, ...]
    """Every folder sent, and every file of 1 MB or more, largest first."""
    top: tuple[ContextEntry, ...] = ()
    """The context's top-level entries, largest first."""


@dataclass(frozen=True)
class Diagnosis:
    """A known breakage recognised in a log, explained in the student's language."""

    id: str
    """Catalogue entry id, e.g. ``jinja2_markup``."""
    line: str
    """The log line that matched."""
    cause: str
    """Why it breaks."""
    fix: str
    """How to fix it."""


# -- diagnoses observed on the real image and container ----------------------------------------


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
class StopFacts:
    """How the container stopped when asked to (``docker stop``)."""

    seconds: float
    """Time ``docker stop`` took."""
    grace_s: float
    """Seconds the engine waits after SIGTERM before SIGKILL."""
    exit_status: int | None
    """Exit status afterwards (137 = killed)."""
    pid1: str
    """Command line of the container's main process (PID 1), empty when unknown."""
    was_running: bool
    """The container was still running when the stop was asked."""
    outcome: str = "timed"
    """How it was known (``grader.stages.stopping``): ``timed`` (docker stop, the grace waited),
    ``exited`` (PID 1 exited on the signal), ``ignored`` (PID 1 did not catch the signal:
    killed at once), ``dropped`` (PID 1 reset it to the default and re-raised it, which the
    kernel drops for PID 1: killed), ``grace`` (still running when the grace ended: killed)."""
    signal_name: str = "SIGTERM"
    """The signal docker stop sends (the image's STOPSIGNAL)."""

    @property
    def killed(self) -> bool:
        """The app did not stop on the signal: killed at the end of the grace period, or at
        once when PID 1 showed it would not stop."""
        if self.outcome in ("ignored", "dropped", "grace"):
            return True
        return self.exit_status == 137 or self.seconds >= self.grace_s


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

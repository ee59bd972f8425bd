"""Facts of the running container: its start, sockets, runtime, probes, stop, log diagnoses."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """How it was looked at: ``host`` (the running container's files from the host, a local
    engine), ``testinfra`` (a shell in the container) or ``archive``."""


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

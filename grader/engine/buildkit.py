"""Building with BuildKit: ``docker buildx build`` run as a subprocess against one engine.

Most BuildKit builds go without the CLI (``grader.engine.buildapi``); this is for those that
need its session (a secret or ssh mount), and for an engine that does not build with BuildKit
by default, through the machine's Docker CLI and its buildx plugin, with ``DOCKER_HOST`` set
to the engine's address.
The progress is read as plain text (the report's build log stays human-readable), the image id
from ``--metadata-file``. A timeout kills the CLI's whole process group: the engine sees the
session close and cancels the build, RUN step included.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Literal

from grader.errors import BuildTimedOut, EngineError, ToolError
from grader.facts.logcap import CappedText
from grader.labels import LABEL_SUBMISSION, image_labels

log = logging.getLogger("grader.engine")

Builder = Literal["buildkit", "classic"]
PROBE_TIMEOUT_S = 20.0
"""Longest ``docker buildx inspect`` may take to say whether an engine offers BuildKit."""
RUNNING = re.compile(r"^Status:\s+running\s*$", re.MULTILINE)
"""``docker buildx inspect``'s line for a builder node that answers (with no engine, there is
no such line and the command still succeeds)."""
_probed: dict[str, bool] = {}
_probe_lock = threading.Lock()
_running: dict[int, tuple[str, subprocess.Popen[str]]] = {}
"""The builds under way (CLI pid -> engine address, process), for ``cancel_builds``."""
_running_lock = threading.Lock()


def cancel_builds(base_url: str) -> int:
    """Cancel the builds still running on the engine at ``base_url`` (the run was interrupted
    while workers were building); how many there were."""
    with _running_lock:
        doomed = [proc for url, proc in _running.values() if url == base_url]
    for proc in doomed:
        _kill(proc)
    return len(doomed)


def docker_cli() -> str | None:
    """The Docker CLI on PATH, None when there is none."""
    return shutil.which("docker")


PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
"""Where the Docker CLI looks for its plugins, besides ``$DOCKER_CONFIG/cli-plugins``."""


def has_buildx() -> bool:
    """True when the Docker CLI is on PATH with its buildx plugin installed (files only: no
    CLI started, unlike ``offers_buildkit``)."""
    config = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    folders = (os.path.join(config, "cli-plugins"), *PLUGIN_DIRS)
    return docker_cli() is not None and any(
        os.access(os.path.join(folder, "docker-buildx"), os.X_OK) for folder in folders
    )


def cli_environment(base_url: str) -> dict[str, str]:
    """The environment of a CLI call aimed at the engine at ``base_url`` (pure but for
    ``os.environ``): the caller's, with ``DOCKER_HOST`` set and no context to override it."""
    env = dict(os.environ)
    env.pop("DOCKER_CONTEXT", None)
    env.update(DOCKER_HOST=base_url, DOCKER_CLI_HINTS="false", BUILDKIT_PROGRESS="plain")
    return env


def offers_buildkit(base_url: str) -> bool:
    """True when the Docker CLI has buildx and the engine at ``base_url`` runs its builder;
    asked once per engine address (``--builder auto``)."""
    with _probe_lock:
        if base_url in _probed:
            return _probed[base_url]
        cli = docker_cli()
        answer = False
        if cli is not None:
            try:
                done = subprocess.run(
                    [cli, "buildx", "inspect"],
                    env=cli_environment(base_url),
                    capture_output=True,
                    text=True,
                    timeout=PROBE_TIMEOUT_S,
                    check=False,
                )
                answer = done.returncode == 0 and RUNNING.search(done.stdout) is not None
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.warning("docker buildx inspect: %s", exc)
        log.info("engine %s: %s", base_url, "BuildKit" if answer else "classic builder only")
        _probed[base_url] = answer
        return answer


def buildx_command(
    cli: str,
    context: Path,
    dockerfile: str,
    labels: Mapping[str, str],
    metadata: Path,
    target: str | None = None,
    cgroup_parent: str | None = None,
    add_host: str | None = None,
) -> list[str]:
    """The ``docker buildx build`` command line of one build (pure)."""
    path = Path(dockerfile)
    command = [cli, "buildx", "build", "--progress=plain", "--load"]
    command += ["--metadata-file", str(metadata)]
    command += ["--file", str(path if path.is_absolute() else context / path)]
    # labels cost BuildKit no step: the submission's too, so that two submissions with the
    # same files never make the same image (one's removal would take the other's)
    own = {LABEL_SUBMISSION: labels[LABEL_SUBMISSION]} if LABEL_SUBMISSION in labels else {}
    for key, value in {**image_labels(labels), **own}.items():
        command += ["--label", f"{key}={value}"]
    if target:
        command += ["--target", target]
    if cgroup_parent:
        command += ["--cgroup-parent", cgroup_parent]
    if add_host:
        command += ["--add-host", add_host]
    return [*command, str(context)]


def error_line(lines: Sequence[str]) -> str | None:
    """The builder's error from BuildKit's plain output (pure): its last ``ERROR:`` line."""
    for line in reversed(lines):
        if line.startswith("ERROR: "):
            return line.removeprefix("ERROR: ").strip()
    return None


def _read(stream: IO[str], text: CappedText, lines: list[str]) -> None:
    """Keep the CLI's output; note its ``ERROR:`` lines, and its first progress line."""
    for line in stream:
        text.add(line)
        if line.startswith("ERROR: ") or (not lines and line.startswith("#")):
            lines.append(line.rstrip("\n"))
    stream.close()


def buildx_build(
    base_url: str,
    context: Path,
    dockerfile: str,
    labels: Mapping[str, str],
    timeout_s: float,
    text: CappedText,
    on_sent: Callable[[], None] = lambda: None,
    target: str | None = None,
    cgroup_parent: str | None = None,
    add_host: str | None = None,
) -> tuple[str | None, str | None]:
    """Build with BuildKit; the image id and the builder's error (one of them None).

    Raises:
        BuildTimedOut: the build did not finish within ``timeout_s`` (it is cancelled).
        ToolError: there is no Docker CLI to run.
        EngineError: the CLI could not be started, or failed before building anything (the
            engine did not answer it), or gave no image.
    """
    cli = docker_cli()
    if cli is None:
        raise ToolError("docker buildx", "no docker command on PATH")
    with tempfile.TemporaryDirectory(prefix="grader-buildx-") as tmp:
        metadata = Path(tmp) / "metadata.json"
        command = buildx_command(
            cli, context, dockerfile, labels, metadata, target, cgroup_parent, add_host
        )
        errors: list[str] = []
        try:
            proc = subprocess.Popen(
                command,
                env=cli_environment(base_url),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # the plugin is the CLI's child: kill both
            )
        except OSError as exc:
            raise EngineError(f"build: cannot run {cli}: {exc}") from exc
        assert proc.stdout is not None
        reader = threading.Thread(target=_read, args=(proc.stdout, text, errors), daemon=True)
        reader.start()
        with _running_lock:
            _running[proc.pid] = (base_url, proc)
        on_sent()
        try:
            code = proc.wait(timeout=max(1.0, timeout_s))
        except subprocess.TimeoutExpired:
            _kill(proc)
            reader.join(5)
            raise BuildTimedOut(timeout_s, text.text()) from None
        except BaseException:  # interrupted: never leave the build running
            _kill(proc)
            raise
        finally:
            with _running_lock:
                _running.pop(proc.pid, None)
        reader.join(10)
        image_id = _image_id(metadata) if code == 0 else None
    if code == 0 and image_id is None:
        raise EngineError("build: BuildKit produced no image id")
    if code != 0:
        error = error_line(errors) or f"docker buildx build exited with status {code}"
        if not any(line.startswith("#") for line in errors):  # nothing built: no engine
            raise EngineError(f"build: {error}")
        return None, error
    return image_id, None


def _kill(proc: subprocess.Popen[str]) -> None:
    """Kill the CLI and its plugin; the engine then cancels the build."""
    started = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log.info("build cancelled (%.2f s to stop the CLI)", time.monotonic() - started)


def _image_id(metadata: Path) -> str | None:
    try:
        data = json.loads(metadata.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("containerimage.config.digest") if isinstance(data, dict) else None
    return str(value) if isinstance(value, str) and value.startswith("sha256:") else None

"""The docker CLI as the benchmark uses it: its labels, a quiet call, clean-up by label."""

from __future__ import annotations

import logging
import socket
import subprocess
from collections.abc import Iterable

from grader.engine import LABEL_OWNER

log = logging.getLogger(__name__)

BENCH_LABEL = "org.docker-lab-grader.bench"
"""Carried by every container and image the benchmark creates itself; the value is the run id."""
BENCH_STEP_LABEL = "org.docker-lab-grader.bench.step"
"""A value unique per floor build, so that the floor commits its label layer as the grader
(whose run label changes every run) does: both arms do the same work."""

CLASSIC_BUILDER = {"DOCKER_BUILDKIT": "0"}
"""The grader builds with the classic builder (docker-py's build API); so does the floor."""


def docker(*args: str, check: bool = True, timeout_s: float = 120.0) -> str:
    """Run ``docker ARGS``; returns its stdout (stripped).

    Raises:
        subprocess.CalledProcessError: a non-zero status when ``check``.
    """
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    return done.stdout.strip()


def server_version() -> str:
    """The engine's version, for the JSON file."""
    try:
        return docker("version", "--format", "{{.Server.Version}}", check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def grader_owner(pid: int) -> str:
    """The grader's owner label value for a ``grade`` process of this machine."""
    return f"{socket.gethostname()}:{pid}"


def remove_labelled(label: str) -> int:
    """Force-remove the containers, then the images, carrying ``label`` (``key=value``).

    Returns how many objects were removed; failures are logged, never raised (clean-up).
    """
    removed = 0
    for kind, list_args, rm_args in (
        ("container", ("ps", "-aq", "--no-trunc"), ("rm", "-f", "-v")),
        ("image", ("images", "-q", "--no-trunc"), ("rmi", "-f")),
    ):
        try:
            ids = sorted(set(docker(*list_args, "--filter", f"label={label}").split()))
            if ids:
                docker(*rm_args, *ids, check=False)
                removed += len(ids)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("could not remove %ss labelled %s: %s", kind, label, exc)
    return removed


def clean_up(run_id: str, grade_pids: Iterable[int]) -> int:
    """Remove what this benchmark run created: its own objects (by its label) and whatever
    its ``grade`` processes left (by the grader's owner label naming their pids)."""
    removed = remove_labelled(f"{BENCH_LABEL}={run_id}")
    for pid in sorted(set(grade_pids)):
        removed += remove_labelled(f"{LABEL_OWNER}={grader_owner(pid)}")
    return removed

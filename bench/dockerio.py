"""The docker CLI as the benchmark uses it: its labels, a quiet call, clean-up by label."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from grader.labels import LABEL, LABEL_OWNER, owner_of, owner_pid

log = logging.getLogger(__name__)

BENCH_LABEL = "org.docker-lab-grader.bench"
"""Carried by every container and image the benchmark creates itself; the value is the run id."""
STEP_SEPARATOR = ":"
"""A floor image's label value is ``<run id>:<step>``, unique per floor build, as the grader's
image label is unique per run: both arms label every image they build."""


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


REMOVE = {"container": ("rm", "-f", "-v"), "image": ("rmi", "-f")}
"""How each kind of object is force-removed."""


def force_remove(kind: str, ids: list[str]) -> int:
    """Force-remove the containers or images ``ids``; how many were asked to go. Failures are
    logged, never raised (clean-up)."""
    if not ids:
        return 0
    try:
        docker(*REMOVE[kind], *ids, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not remove %ss: %s", kind, exc)
        return 0
    return len(ids)


def remove_labelled(label: str) -> int:
    """Force-remove the containers, then the images, carrying ``label`` (``key=value``).

    Returns how many objects were removed; failures are logged, never raised (clean-up).
    """
    removed = 0
    for kind, list_args in (
        ("container", ("ps", "-aq", "--no-trunc")),
        ("image", ("images", "-q", "--no-trunc")),
    ):
        try:
            ids = sorted(set(docker(*list_args, "--filter", f"label={label}").split()))
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("could not list %ss labelled %s: %s", kind, label, exc)
            continue
        removed += force_remove(kind, ids)
    return removed


def clean_up(run_id: str, grade_pids: Iterable[int]) -> int:
    """Remove what this benchmark run created: its own objects (by its label, whose value
    starts with its run id) and whatever its ``grade`` processes left (by the grader's owner
    label naming their pids, whatever the start time it gives: they have exited; an image
    carries the owner in the value of its one label)."""
    removed = remove_labelled(f"{BENCH_LABEL}={run_id}")
    pids = set(grade_pids)
    left = labelled(LABEL_OWNER, lambda v: owner_pid(v) in pids, kind="container")
    removed += force_remove("container", left)
    doomed = labelled(BENCH_LABEL, lambda v: v.partition(STEP_SEPARATOR)[0] == run_id)
    doomed += labelled(LABEL, lambda v: owner_pid(owner_of({LABEL: v}) or "") in pids)
    return removed + force_remove("image", doomed)


def labelled(key: str, keep: Callable[[str], bool], kind: str = "image") -> list[str]:
    """Ids of the images (or containers) whose label ``key`` has a value ``keep`` accepts."""
    listing = ["images", "-aq"] if kind == "image" else ["ps", "-aq"]
    try:
        ids = sorted(set(docker(*listing, "--no-trunc", "--filter", f"label={key}").split()))
        if not ids:
            return []
        shown = docker(kind, "inspect", "--format", "{{.Id}} {{json .Config.Labels}}", *ids)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not list %ss labelled %s: %s", kind, key, exc)
        return []
    found = []
    for line in shown.splitlines():
        object_id, _, text = line.partition(" ")
        labels = json.loads(text or "null") or {}
        if key in labels and keep(str(labels[key])):
            found.append(object_id)
    return found


_STEP = re.compile(r"^Step \d+/\d+ : (\S+)(.*)$")
_STEP_ID = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")


def stage_leaves(build_log: str) -> list[str]:
    """The images a grader build left as the build cache (pure): the last image of every
    stage, the final one being the image just under the grader's label steps."""
    leaves: list[str] = []
    last: str | None = None
    for line in build_log.splitlines():
        step = _STEP.match(line)
        if step is not None:
            keyword, rest = step.group(1).upper(), step.group(2)
            grader_label = keyword == "LABEL" and rest.strip().startswith(LABEL)
            if (keyword == "FROM" or grader_label) and last is not None and last not in leaves:
                leaves.append(last)
            if grader_label:
                break
            continue
        found = _STEP_ID.match(line)
        if found is not None:
            last = found.group(1)
    return leaves


def remove_build_cache(work: Path) -> int:
    """Remove the layers the grader kept as its build cache for this run's copies (their
    nonce'd dependency layers and the class's app layers), found in the reports' build logs
    under ``work``; images still used by another image are kept (``docker rmi`` refuses)."""
    ids: list[str] = []
    for path in sorted(work.glob("*/*/build.log")):
        try:
            ids += [i for i in stage_leaves(path.read_text(encoding="utf-8")) if i not in ids]
        except OSError:
            continue
    removed = 0
    for image_id in ids:
        try:
            docker("rmi", image_id, check=True)
            removed += 1
        except (OSError, subprocess.SubprocessError):
            continue  # in use (a child image, a container) or already gone
    return removed

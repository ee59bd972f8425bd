"""The grader's Docker labels: what its containers and images carry, whose run they are.

Every object the grader creates carries ``LABEL``; containers also carry the run id, the owner
(``<host>:<pid>``) and the submission, images one label valued ``<run>@<owner>``. Clean-ups
remove objects by these labels, never by name. Kept apart from ``grader.engine`` (which loads
docker-py): the command line reads them before it loads anything heavy
(``grader.engine.headstart``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

LABEL = "org.docker-lab-grader"
"""Every object the grader creates carries this label (value ``1``)."""
LABEL_RUN = f"{LABEL}.run"
LABEL_OWNER = f"{LABEL}.owner"
LABEL_SUBMISSION = f"{LABEL}.submission"


def image_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The one label a build gives its image (pure): the grader's label, valued with the run
    id and the owner as ``<run>@<host>:<pid>``. The classic builder adds each label as a step
    of its own (about 55 ms each, on every build), so images carry one where containers carry
    them all; ``run_of`` and ``owner_of`` read both. No labels: no label step."""
    run = labels.get(LABEL_RUN, labels.get(LABEL))
    if run is None:
        return {}
    owner = labels.get(LABEL_OWNER)
    return {LABEL: f"{run}@{owner}" if owner else run}


def run_of(labels: Mapping[str, str]) -> str | None:
    """The run an object belongs to (pure): a container's run label, an image's grader label."""
    if LABEL_RUN in labels:
        return labels[LABEL_RUN]
    value = labels.get(LABEL)
    return None if value is None else value.partition("@")[0]


def owner_of(labels: Mapping[str, str]) -> str | None:
    """``<host>:<pid>`` of the grading process that made an object (pure), None if unknown."""
    if LABEL_OWNER in labels:
        return labels[LABEL_OWNER]
    return labels.get(LABEL, "").partition("@")[2] or None


def new_run_labels() -> dict[str, str]:
    """Labels for one grading run: a run id and the owning host and pid (for sweeps)."""
    return {
        LABEL: "1",
        LABEL_RUN: os.urandom(6).hex(),
        LABEL_OWNER: f"{socket.gethostname()}:{os.getpid()}",
    }

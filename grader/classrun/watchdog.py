"""A submission past its time: its containers are removed, so that whatever still waits on
them (a check, a stage in a worker) ends, and the class goes on."""

from __future__ import annotations

import logging
import threading

from grader.grading.pipeline import Pipeline

log = logging.getLogger(__name__)

GRACE_S = 30.0
"""How long past its submission timeout a submission may still hold the main thread."""


def watch(pipeline: Pipeline, grace_s: float = GRACE_S) -> threading.Timer:
    """A started timer that removes ``pipeline``'s containers ``grace_s`` after its
    submission timeout ends (its clock started at its first stage); cancel it once done."""

    def overdue() -> None:
        name, seconds = pipeline.submission.name, pipeline.options.submission_timeout_s
        log.warning("%s: still running %g s past its submission timeout (%g s): its "
                    "containers are removed", name, grace_s, seconds)  # fmt: skip
        pipeline.close()

    timer = threading.Timer(max(pipeline.remaining_s(), 0.0) + grace_s, overdue)
    timer.name = f"watchdog-{pipeline.submission.name}"
    timer.daemon = True
    timer.start()
    return timer

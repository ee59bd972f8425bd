"""The Celery side of the queue: the app's delivery settings and the grading task.

Delivery: a task is acknowledged once graded (``acks_late``; a worker that dies mid-task
leaves it to be delivered again, ``reject_on_worker_lost``), each slot prefetches one task,
and Redis hands an unacknowledged task to another worker after the visibility timeout, which
must stay above the longest submission timeout. A task's id is derived from its submission's
reuse key: a task already graded answers with its stored result. A worker counts the
deliveries of each task in Redis; past ``MAX_ATTEMPTS`` it answers with the reason instead of
grading again. A worker whose grader differs from the sender's refuses the task.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from celery import Celery, Task

from grader.classrun import stageslots, sweeper
from grader.classrun.cleanup import Cleanup
from grader.classrun.jobs import Job, Listener, Run
from grader.classrun.payload import unpack
from grader.classrun.reuse import grader_digest
from grader.classrun.workers import EnginePool
from grader.engine import cgroups
from grader.errors import EngineError
from grader.grading.settings import Options
from grader.intake.sources import Source
from grader.labels import LABEL_RUN, new_run_labels
from grader.stages import isolation

QUEUE = "grader"
"""The one queue every worker consumes; priorities order it (``SINGLE`` before ``CLASS``)."""
SINGLE, CLASS = 0, 5
"""Priorities (Redis: 0 goes first): a single submission (a self-check, a regrade) before a
class run's."""
MAX_ATTEMPTS = 3
DEFAULT_VISIBILITY_S = 3600.0
"""Seconds before Redis hands an unacknowledged task to another worker: above the longest
submission timeout (900 s by default)."""
ATTEMPTS_TTL_S = 7 * 86400
DOCKER_HOST_VARIABLE = "GRADER_WORKER_DOCKER_HOST"
"""The engine the worker's slots use (set by ``grade-worker``; empty: the default one)."""
TASK = "grader.grade"

app = Celery("grader")


def configure(target: Celery, url: str, visibility_s: float = DEFAULT_VISIBILITY_S) -> Celery:
    """Point ``target`` at the Redis at ``url`` (broker and results) with the queue's rules."""
    transport = {
        "visibility_timeout": visibility_s,
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
        "priority_steps": list(range(10)),
        "queue_order_strategy": "priority",
        "sep": ":",
    }
    target.conf.update(
        broker_url=url,
        result_backend=url,
        broker_transport_options=transport,
        result_backend_transport_options={"visibility_timeout": visibility_s},
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_track_started=True,
        task_default_queue=QUEUE,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        result_expires=ATTEMPTS_TTL_S,
    )
    return target


def task_id(key: str, name: str) -> str:
    """The id of the task grading submission ``name`` whose reuse key is ``key`` (two
    students may hand in the same files: the name is part of it)."""
    named = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"grade-{key}-{named}"


def attempts_key(tid: str) -> str:
    """Redis key counting the deliveries of task ``tid``."""
    return f"grader:attempts:{tid}"


def reason_key(tid: str) -> str:
    """Redis key holding why the last delivery of task ``tid`` did not finish."""
    return f"grader:reason:{tid}"


def _grade(self: Task, payload: dict[str, Any]) -> dict[str, Any]:
    """Grade one submission sent by ``grade --queue`` (see ``run_task``)."""
    return run_task(self, payload)


grade = app.task(bind=True, name=TASK, acks_late=True, reject_on_worker_lost=True)(_grade)
"""The grading task, registered on ``app`` (what ``grade-worker`` runs)."""


def run_task(task: Task, payload: dict[str, Any]) -> dict[str, Any]:
    """The version check, the delivery count, then the grading of ``payload``."""
    host = str(task.request.hostname or "a worker")
    mine = grader_digest()
    if payload.get("version") != mine:
        return {
            "refused": f"{host} runs grader {mine}, this run needs {payload.get('version')}: "
            "install the same grader version on every worker"
        }
    tid = str(task.request.id)
    stored = task.AsyncResult(tid)
    if stored.state == "SUCCESS" and isinstance(stored.result, dict):
        return dict(stored.result)  # delivered again after it was graded
    client = task.app.backend.client
    attempt = int(client.incr(attempts_key(tid)))
    client.expire(attempts_key(tid), ATTEMPTS_TTL_S)
    if attempt > MAX_ATTEMPTS:
        last = client.get(reason_key(tid))
        reason = last.decode() if last else "its worker stopped before it finished"
        return {"failed": f"{MAX_ATTEMPTS} attempts did not grade it; the last: {reason}"}
    lost = f"{host} stopped before it finished (killed, or out of memory)"
    client.set(reason_key(tid), lost, ex=ATTEMPTS_TTL_S)
    try:
        answer = grade_payload(payload, os.environ.get(DOCKER_HOST_VARIABLE) or None)
        client.delete(reason_key(tid))
        return answer
    except EngineError as exc:
        client.set(reason_key(tid), f"{host}: {exc}", ex=ATTEMPTS_TTL_S)
        if attempt >= MAX_ATTEMPTS:
            return {"failed": f"{MAX_ATTEMPTS} attempts did not grade it; the last: {host}: {exc}"}
        raise task.retry(countdown=2, max_retries=None) from exc


def grade_payload(payload: dict[str, Any], docker_host: str | None) -> dict[str, Any]:
    """Grade the submission in ``payload`` with the class run's own job code (``Run``) on
    the engine at ``docker_host``; its report as plain data.

    Raises:
        EngineError: the engine does not answer.
    """
    name = str(payload["name"])
    with tempfile.TemporaryDirectory(prefix="grader-task-") as tmp:
        root = Path(tmp)
        folder = root / "in" / name
        unpack(str(payload["files"]), folder)
        lab_ref = str(payload["lab"])
        if payload.get("lab_text") is not None:
            lab_file = root / str(payload["lab_file"])
            lab_file.write_text(str(payload["lab_text"]), encoding="utf-8")
            lab_ref = str(lab_file)
        options = Options(**payload["options"])
        pool = EnginePool.connect([docker_host])
        labels = new_run_labels()
        run = Run(lab_ref, options, root / "out", pool, labels, Listener(), force=True,
                  ahead=True, cleanup=Cleanup(pool, labels[LABEL_RUN]), free=[1])  # fmt: skip
        admitted: Future[Job] = Future()
        token = stageslots.acquire(os.environ.get(stageslots.VARIABLE))
        try:  # as a class run does: the stages run ahead in a thread, the checks here
            with ThreadPoolExecutor(1, thread_name_prefix="grader") as executor:
                stages = executor.submit(run.prepare, Source(name, folder), admitted)
                stages.add_done_callback(lambda _: token.release())  # the tail needs none
                graded = run.finish(admitted.result())
                stages.result()
        finally:
            token.release()
            cgroups.remove_own()  # now: the slot's next build makes its own
            job = admitted.result() if admitted.done() and not admitted.exception() else None
            built = job.pipeline.built_image_ids() if job and job.pipeline else []
            isolation.wait_released()  # its network, released while the reports were written
            pool.close()  # cancels this task's builds still running, if any
            sweeper.later(docker_host, labels[LABEL_RUN], built)  # while the slot grades on
        log = graded.folder / "grader.log"
        return {
            "report": graded.report.to_dict(),
            "tracebacks": log.read_text(encoding="utf-8") if log.exists() else "",
            "engine": graded.engine,
            "seconds": graded.seconds,
        }


def new_app(url: str, visibility_s: float = DEFAULT_VISIBILITY_S) -> Celery:
    """A Celery app for the instructor's side (it sends tasks by name)."""
    return configure(Celery("grader-sender"), url, visibility_s)

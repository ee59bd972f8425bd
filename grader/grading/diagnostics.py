"""The diagnosis stages' work: layer-cache probe, timed stop and image waste, for ``Pipeline``.

Kept apart from ``pipeline.py`` so that the pipeline stays a list of lazy stages; each function
here reads the stages it needs through the pipeline (so they run at most once) and returns facts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol, TypeVar

from grader.dockerfile.instructions import resolve_base, show
from grader.engine import Engine
from grader.errors import ContainerExited
from grader.facts import (
    BuildResult,
    CacheFacts,
    DockerfileFacts,
    StartResult,
    StopFacts,
    Submission,
    WasteFacts,
)
from grader.grading.settings import Settings
from grader.intake.submission import read_dev_dependencies
from grader.labs.params import LayerCacheParams, StopSignalParams, WasteParams
from grader.labs.spec import LabSpec
from grader.stages import runtime, stopping
from grader.stages.cache_probe import probe_cache
from grader.stages.waste import image_waste

log = logging.getLogger(__name__)
P = TypeVar("P")


class BuiltStages(Protocol):
    """What the image's diagnoses read of a submission's ``Pipeline`` (each stage run once).

    A protocol, not the ``Pipeline`` class: the pipeline calls these functions, so they must
    not import it back."""

    @property
    def lab(self) -> LabSpec: ...
    @property
    def submission(self) -> Submission: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def options(self) -> Settings: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def dockerfile(self) -> DockerfileFacts: ...
    @property
    def build(self) -> BuildResult: ...


class RunningStages(BuiltStages, Protocol):
    """What the timed stop reads besides: the started container."""

    @property
    def start(self) -> StartResult: ...


PRE_STOP: dict[str, tuple[str, ...]] = {
    "runtime": ("image.user_non_root", "image.exposed_port"),
    "dev_packages": ("image.no_dev_dependencies",),
    "root_probe": ("http.root_status", "http.root_text"),
    "missing_probe": ("http.not_found",),
}
"""Stages that need the running container, gathered before the stop (when the lab has a
check reading them), whatever order the checks run in."""


def params_of(lab: LabSpec, check_id: str, default: type[P]) -> P:
    """The lab's parameters of a check, or the defaults when the lab does not use it."""
    spec = lab.check(check_id)
    return spec.params if spec and isinstance(spec.params, default) else default()


def probe_layer_cache(pipeline: BuiltStages, timeout_s: float) -> tuple[CacheFacts, str | None]:
    """Rebuild after a one-line app change; the facts and the rebuilt image (to remove).

    Raises:
        BuildTimedOut, EngineError (and whatever the ``dockerfile`` stage raises).
    """
    params = params_of(pipeline.lab, "image.layer_cache", LayerCacheParams)
    return probe_cache(
        pipeline.engine,
        pipeline.submission,
        pipeline.dockerfile,
        pipeline.labels,
        params.install_commands,
        params.deps_files,
        timeout_s,
        pipeline.options.build_limits,
        pipeline.options.builder,
    )


def timed_stop(pipeline: RunningStages) -> StopFacts:
    """Gather what needs the running container, then stop it as ``docker stop`` would, timed
    (without waiting the grace when PID 1 shows the outcome: ``grader.stages.stopping``).

    Raises:
        ContainerExited: the container was no longer running (and whatever ``start`` raises).
        EngineError: the engine failed.
    """
    started = pipeline.start
    for stage, checks in PRE_STOP.items():
        if any(pipeline.lab.check(c) for c in checks):
            try:
                getattr(pipeline, stage)
            except Exception:  # cached by the pipeline: the check reading it reports it
                log.debug("stage %s failed before the stop", stage)
    engine, cid = pipeline.engine, started.container_id
    attrs = engine.inspect_container(cid)  # one inspect: the main process and its stop signal
    main = runtime.main_of(engine, cid, attrs)
    if main is None:
        state = attrs.get("State") or {}
        raise ContainerExited(int(state.get("ExitCode") or 0), started.log_tail)
    pid1 = runtime.command_line(engine, cid, main)
    grace = params_of(pipeline.lab, "run.stop_signal", StopSignalParams).grace_s
    name = stopping.stop_signal_of(attrs)
    done = stopping.stop(engine, cid, main, grace, started.host_port, started.address, name)
    return StopFacts(
        done.seconds, grace, done.exit_status, pid1, True, done.outcome, done.signal_name
    )


def waste(pipeline: BuiltStages, fast: bool = True) -> WasteFacts:
    """The layer table and the student's wasted bytes (``fast``: see ``image_waste``).

    Raises:
        EngineError (and whatever ``build`` raises).
    """
    params = params_of(pipeline.lab, "image.waste", WasteParams)
    image_id = pipeline.build.image_id
    facts = pipeline.dockerfile
    final = facts.final_stage
    base = resolve_base(facts, final) if final else None
    written = [show(i).split(": ", 1)[1] for i in final.instructions[1:]] if final else []
    limits = (int(params.max_image_mb * 1e6), params.top)
    dev = read_dev_dependencies(pipeline.submission.root, "package.json")
    return image_waste(pipeline.engine, image_id, base, written, limits, dev, fast)

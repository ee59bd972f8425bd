"""The Docker engine, the only part of the grader that imports the Docker SDK (``sdk``).

``Engine`` (``client``) is made of parts, each a module: ``builds`` (which builder; the classic
builder's stream, a build sent ahead by ``grader.engine.headstart`` adopted), ``buildapi``
(BuildKit through the engine's API: ``/build?version=2``, or BuildKit's gRPC API,
``buildgrpc``, when a cgroup parent is given; its progress read by ``buildtrace``),
``buildkit`` (BuildKit through ``docker buildx build``, a subprocess, for what needs its
session), ``sweeps`` (clean-up by label), ``storage``
(an image's layers as stored), ``bounds`` (what each build may use: its cgroup,
``grader.engine.cgroups``), ``runbounds`` (BuildKit's RUN containers bounded one by one
under a shared parent) and ``base`` (what they share). Every third-party
exception is translated at this boundary (habit 4): into ``EngineError``/``EngineUnavailable``,
or a stage outcome (``BuildTimedOut``) when the cause is the submission. Its light modules
need no SDK: ``cgroups``, ``headstart`` (a build sent over the socket with the standard library),
``dockerignore`` (docker-py's context matcher), ``faults``. May import errors, labels, facts.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from grader.engine.adoption import MACHINE_FAULTS, BuildOutcome
    from grader.engine.bounds import BuildBounds, BuildLimits
    from grader.engine.client import Engine
    from grader.engine.sdk import NO_ENGINE
    from grader.engine.storage import OverlayLayout

# Where each name lives, imported on first use: the package's light modules (``cgroups``,
# ``headstart``, ``dockerignore``, ``faults``) stay importable without the Docker SDK.
_HOMES = {
    "BuildBounds": "bounds",
    "BuildLimits": "bounds",
    "MACHINE_FAULTS": "adoption",
    "BuildOutcome": "adoption",
    "Engine": "client",
    "NO_ENGINE": "sdk",
    "OverlayLayout": "storage",
}

__all__ = [
    "MACHINE_FAULTS",
    "NO_ENGINE",
    "BuildBounds",
    "BuildLimits",
    "BuildOutcome",
    "Engine",
    "OverlayLayout",
]


def __getattr__(name: str) -> object:
    """The engine's names, from their module on first use (``from grader.engine import Engine``)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'grader.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"grader.engine.{home}"), name)
    globals()[name] = value
    return value

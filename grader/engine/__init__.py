"""The Docker engine, the only part of the grader that imports the Docker SDK (``sdk``).

``Engine`` (``client``) is made of parts, each a module: ``builds`` (which builder; the classic
builder's stream, a build sent ahead by ``grader.headstart`` adopted), ``buildkit`` (BuildKit
through ``docker buildx build``, a subprocess), ``sweeps`` (clean-up by label), ``storage``
(an image's layers as stored), ``bounds`` (what each build may use: its cgroup,
``grader.cgroups``), ``runbounds`` (BuildKit's RUN containers bounded one by one under a
shared parent) and ``base`` (what they share). Every third-party
exception is translated at this boundary (habit 4): into ``EngineError``/``EngineUnavailable``,
or a stage outcome (``BuildTimedOut``) when the cause is the submission.
"""

from grader.engine.bounds import BuildBounds, BuildLimits
from grader.engine.builds import MACHINE_FAULTS, BuildOutcome
from grader.engine.client import Engine
from grader.engine.sdk import NO_ENGINE
from grader.engine.storage import OverlayLayout

__all__ = [
    "MACHINE_FAULTS",
    "NO_ENGINE",
    "BuildBounds",
    "BuildLimits",
    "BuildOutcome",
    "Engine",
    "OverlayLayout",
]

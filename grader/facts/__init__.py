"""Frozen, typed facts each pipeline stage produces; checks read these, never Docker or HTTP.

One module per step of the flow (``submission``, ``dockerfile``, ``image``, ``container``);
the results of a grading are in ``results``. Every name is re-exported here: checks and
stages import ``from grader.facts import ...``. ``logcap`` bounds long text. The bottom
layer: imports no other part of the grader.

The modules behind those names load at the first one asked of the package (PEP 562
``__getattr__``): the build a single submission's run sends ahead (``grader.engine.headgrpc``)
needs ``logcap`` alone, and loading the others' dataclasses first delayed it by 10 ms.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time: __getattr__
    from grader.facts.container import (
        DevPackages,
        Diagnosis,
        ProbeResult,
        RuntimeFacts,
        Socket,
        StartResult,
        StopFacts,
        outside_port,
    )
    from grader.facts.dockerfile import (
        ContextEntry,
        ContextFacts,
        DockerfileFacts,
        Instruction,
        LintFacts,
        LintFinding,
        Stage,
    )
    from grader.facts.image import (
        BuildResult,
        CacheFacts,
        CacheStep,
        ImageFacts,
        LayerRow,
        Offender,
        SizeFacts,
        WasteFacts,
    )
    from grader.facts.submission import Declaration, Submission

__all__ = [
    "BuildResult",
    "CacheFacts",
    "CacheStep",
    "ContextEntry",
    "ContextFacts",
    "Declaration",
    "DevPackages",
    "Diagnosis",
    "DockerfileFacts",
    "ImageFacts",
    "Instruction",
    "LayerRow",
    "LintFacts",
    "LintFinding",
    "Offender",
    "ProbeResult",
    "RuntimeFacts",
    "SizeFacts",
    "Socket",
    "Stage",
    "StartResult",
    "StopFacts",
    "Submission",
    "WasteFacts",
    "outside_port",
]

HOMES = ("container", "dockerfile", "image", "submission")
"""The modules the names of ``__all__`` come from."""


def __getattr__(name: str) -> object:
    """A name of ``__all__``: its modules loaded now, every name then the package's own."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = globals()
    for home in HOMES:
        module = importlib.import_module(f"{__name__}.{home}")
        found.update({n: getattr(module, n) for n in __all__ if hasattr(module, n)})
    return found[name]

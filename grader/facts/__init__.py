"""Frozen, typed facts each pipeline stage produces; checks read these, never Docker or HTTP.

One module per step of the flow (``submission``, ``dockerfile``, ``image``, ``container``);
the results of a grading are in ``results``. Every name is re-exported here: checks and
stages import ``from grader.facts import ...``. ``logcap`` bounds long text. The bottom
layer: imports no other part of the grader.
"""

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

"""docker-lab-grader: builds a student's Docker image, inspects it, runs it, probes it, explains."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (~10 ms at start-up)
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "grade_submission", "load_lab"]


def __getattr__(name: str) -> Any:
    """``grade_submission`` and ``load_lab``, imported on first use: ``import grader`` (and so
    every ``grader.*`` module, the command line first) stays free of pytest and Docker."""
    if name == "grade_submission":
        from grader.grading.single import grade_submission

        return grade_submission
    if name == "load_lab":
        from grader.labs.spec import load_lab

        return load_lab
    raise AttributeError(f"module 'grader' has no attribute {name!r}")

"""docker-lab-grader: builds a student's Docker image, inspects it, runs it, probes it, explains."""

from __future__ import annotations

__version__ = "0.1.0"

from grader.batch import grade_submission
from grader.lab import load_lab

__all__ = ["__version__", "grade_submission", "load_lab"]

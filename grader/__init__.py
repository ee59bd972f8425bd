"""docker-lab-grader: builds a student's Docker image, inspects it, runs it, probes it, explains.

The package root holds the version only, and imports nothing: every ``grader.*`` module may
read ``__version__`` without an import cycle through the root. What a program calls lives in
its stage's package (``grader.grading.single.grade_submission``, ``grader.labs.spec.load_lab``;
see the architecture page).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

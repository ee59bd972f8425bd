"""The stages that read the submission without Docker: the Dockerfile, hadolint, the context."""

from __future__ import annotations

from grader.dockerfile import lint
from grader.dockerfile.parse import parse_dockerfile
from grader.errors import NoDockerfile
from grader.facts import ContextFacts, DockerfileFacts, LintFacts
from grader.grading.stage_cache import StageCache
from grader.intake.submission import DEFAULT_NAME, FALLBACK_NAMES
from grader.stages.context import context_facts

LINT_TIMEOUT_S = 30.0
"""Longest hadolint may take on one Dockerfile."""


class StaticStages(StageCache):
    """Dockerfile, lint and build context: no build needed."""

    @property
    def dockerfile(self) -> DockerfileFacts:
        """Static facts of the Dockerfile.

        Raises:
            NoDockerfile, SubmissionRejected.
        """
        return self._once("dockerfile", self._parse)

    def _parse(self) -> DockerfileFacts:
        if self.submission.dockerfile is None:
            raise NoDockerfile(str(self.submission.root), (DEFAULT_NAME, *FALLBACK_NAMES))
        return parse_dockerfile(self.submission.dockerfile)

    # -- static diagnoses (issue 7): lint and build context, no build needed -------------------

    @property
    def lint(self) -> LintFacts:
        """hadolint's findings on the Dockerfile.

        Raises:
            NoDockerfile, SubmissionRejected, ToolError (hadolint failed: not the student's).
        """
        return self._once(
            "lint", lambda: lint.run_hadolint(self.dockerfile.path, self._bounded(LINT_TIMEOUT_S))
        )

    @property
    def context(self) -> ContextFacts:
        """The build context Docker is sent (once the Dockerfile is known to be usable)."""
        return self._once("context", lambda: context_facts(self.submission, self.dockerfile))

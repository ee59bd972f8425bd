"""Every exception the grader raises, in one tree, each carrying its evidence and exit code.

    GraderError                      base; str() is one line; .exit_code
    ├── UsageError                   bad flags, unknown lab id, missing PATH          exit 2
    ├── LabFileError                 lab TOML invalid: path, key path, reason         exit 2
    ├── EngineError                  the Docker engine failed (cause chained)  status `error`
    │   ├── EngineUnavailable        no engine answers at the start of a run          exit 3
    │   └── RegistryUnreachable      a registry does not answer (not the student's fault)
    ├── ToolError                    a bundled tool (hadolint) failed: status `error`
    └── SubmissionError              about ONE submission; never ends the class run
        ├── SubmissionRejected       unreadable / unsafe submission
        ├── NoDockerfile
        └── StageFailed              a stage could not produce its evidence
            ├── BuildFailed          .log, .step_line (Dockerfile line), .error
            ├── BuildTimedOut        .timeout_s, .log
            ├── ContainerExited      .exit_status, .log_tail
            ├── NeverReady           .waited_s, .listening (sockets seen inside the container)
            ├── SubmissionTimedOut   the whole submission took longer than its bound
            ├── NotDeclared          no usable submission.toml image declaration
            ├── PullFailed           the declared image cannot be pulled
            └── ProbeFailed          .url, .cause (refused | timeout | reset | error)

Classes for grader faults end in ``Error``; classes for submission outcomes are named for what
happened, so whose fault it is shows in every ``except`` line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the facts load with the rest of the grader, after the head start
    from grader.facts import Socket


class GraderError(Exception):
    """Base of every exception of ours; ``str()`` is one line."""

    exit_code = 4


class UsageError(GraderError):
    """Bad command-line usage: unknown lab, missing path, bad flag value."""

    exit_code = 2


class LabFileError(GraderError):
    """A lab file is invalid; names the file, the key path and the reason."""

    exit_code = 2

    def __init__(self, path: str, key_path: str, reason: str) -> None:
        self.path = path
        self.key_path = key_path
        self.reason = reason
        where = f"{path}: {key_path}" if key_path else path
        super().__init__(f"{where}: {reason}")


class EngineError(GraderError):
    """The Docker engine failed while grading; not the student's fault."""

    exit_code = 4


class EngineUnavailable(EngineError):
    """No Docker engine answers."""

    exit_code = 3


class RegistryUnreachable(EngineError):
    """A registry (or its token service) does not answer."""

    def __init__(self, registry: str, detail: str) -> None:
        self.registry = registry
        self.detail = detail
        super().__init__(f"registry {registry} does not answer")


class NetworkUnavailable(EngineError):
    """A build step could not reach its package index (pip, npm, apt): the grading machine's
    network failed, not the student's Dockerfile."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"the build could not reach its package index: {detail}")


class SubmissionError(GraderError):
    """Something about one submission; never ends the class run."""

    exit_code = 0


class SubmissionRejected(SubmissionError):
    """The submission cannot be graded as it is (unreadable, unsafe)."""


class ContextRejected(SubmissionRejected):
    """The build context is too large to send: the build is refused (``build.succeeds``)."""


class NoDockerfile(SubmissionError):
    """No Dockerfile was found in the submission."""

    def __init__(self, root: str, looked_for: Sequence[str]) -> None:
        self.root = root
        self.looked_for = tuple(looked_for)
        super().__init__(f"no Dockerfile in {root} (looked for {', '.join(looked_for)})")


class StageFailed(SubmissionError):
    """A pipeline stage could not produce its evidence; dependent checks are 'not run'."""

    stage = "stage"


class BuildFailed(StageFailed):
    """``docker build`` failed; carries the bounded log and the failing Dockerfile line."""

    stage = "build"

    def __init__(
        self,
        error: str,
        log: str,
        step: str | None,
        step_line: int | None,
        bound: tuple[str, dict[str, str]] | None = None,
    ) -> None:
        self.error = error
        self.log = log
        self.step = step
        self.step_line = step_line
        self.bound = bound
        """The bound that stopped it (``memory``, ``pids``, ``image_size``) and the values
        its message names (``limit``; ``size`` too for an image)."""
        super().__init__(error.splitlines()[0] if error else "build failed")


class BuildTimedOut(StageFailed):
    """The build did not finish within its time bound."""

    stage = "build"

    def __init__(self, timeout_s: float, log: str) -> None:
        self.timeout_s = timeout_s
        self.log = log
        super().__init__(f"build still running after {timeout_s:.0f} s")


class ContainerExited(StageFailed):
    """The container stopped during start-up."""

    stage = "run"

    def __init__(self, exit_status: int, log_tail: str) -> None:
        self.exit_status = exit_status
        self.log_tail = log_tail
        super().__init__(f"the container exited with status {exit_status}")


class NeverReady(StageFailed):
    """The container kept running but never answered HTTP on the published port."""

    stage = "run"

    def __init__(
        self, waited_s: float, port: int, listening: tuple[Socket, ...] | None, log_tail: str
    ) -> None:
        self.waited_s = waited_s
        self.port = port
        self.listening = listening
        self.log_tail = log_tail
        super().__init__(f"no HTTP answer on port {port} after {waited_s:.1f} s")


class SubmissionTimedOut(StageFailed):
    """The submission used up its whole time bound before this stage could run."""

    stage = "submission"

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"the submission took longer than {timeout_s:.0f} s in all")


class NotDeclared(StageFailed):
    """The submission does not declare its pushed image (or declares it badly)."""

    stage = "registry"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class PullFailed(StageFailed):
    """The declared image could not be pulled."""

    stage = "registry"

    def __init__(self, reference: str, error: str) -> None:
        self.reference = reference
        self.error = error
        super().__init__(f"cannot pull {reference}: {error}")


class ProbeFailed(StageFailed):
    """An HTTP request to the container got no HTTP response."""

    stage = "probe"

    def __init__(self, url: str, cause: str, detail: str = "") -> None:
        self.url = url
        self.cause = cause
        self.detail = detail
        super().__init__(f"GET {url}: {cause}")


class ToolError(GraderError):
    """A tool the grader runs (hadolint) crashed, timed out or is missing: not the student's."""

    def __init__(self, tool: str, detail: str) -> None:
        self.tool = tool
        self.detail = detail
        super().__init__(f"{tool}: {detail}")


class StartRefused(StageFailed):
    """The engine refused to start the container for the image's reasons (its ENTRYPOINT or
    CMD names a program that is missing or not executable, its USER does not exist): the
    student's outcome, shown with the engine's message."""

    stage = "run"

    def __init__(self, container_id: str, message: str, exit_status: int) -> None:
        self.container_id = container_id
        self.message = message
        self.exit_status = exit_status
        super().__init__(f"the engine refused to start the container: {message}")


class ClassicBuilderCannot(ToolError):
    """The classic builder cannot build what BuildKit builds (its syntax, or a stage the final
    image never uses that fails): the grader's builder's limit, not the student's mistake."""

    def __init__(
        self, features: tuple[str, ...], unused_stage: tuple[str, int] | None = None
    ) -> None:
        self.features = features
        """The BuildKit-only syntax used, as written (``RUN --mount (line 12)``)."""
        self.unused_stage = unused_stage
        """The name and FROM line of the unused stage the classic builder failed in."""
        unused = (
            [f"unused stage {unused_stage[0]} at line {unused_stage[1]}"] if unused_stage else []
        )
        what = [*features, *unused]
        super().__init__("docker build (classic builder)", "needs BuildKit: " + ", ".join(what))

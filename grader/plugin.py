"""The pytest adapter: options, parametrize by submission, fixtures over ``Pipeline``.

Registered as the ``pytest11`` entry point ``grader.plugin`` (named after the module, so a
``conftest.py`` may also list it). Inert unless ``--submission`` or ``--lab`` is given, or a
``GradingSession`` was handed to ``pytest.main`` by the batch grader.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from grader.dockerfile.stated import stated_image
from grader.engine import Engine
from grader.errors import (
    BuildFailed,
    BuildTimedOut,
    ContextRejected,
    GraderError,
    NoDockerfile,
    StageFailed,
    SubmissionError,
    SubmissionRejected,
)
from grader.facts import (
    BuildResult,
    CacheFacts,
    ContextFacts,
    Declaration,
    DevPackages,
    DockerfileFacts,
    ImageFacts,
    LintFacts,
    ProbeResult,
    RuntimeFacts,
    SizeFacts,
    StartResult,
    StopFacts,
    Submission,
    WasteFacts,
)
from grader.grading.pipeline import Pipeline
from grader.grading.rubric import STATED_KEY, Grade
from grader.grading.session import GradingSession, check_id_of
from grader.grading.settings import Options
from grader.intake.submission import load_submission
from grader.labels import new_run_labels
from grader.labs.spec import LabSpec, choose_lab, rubric_dir

SESSION_KEY = pytest.StashKey[GradingSession]()
VALUE_OPTIONS = frozenset(
    {"--submission", "--lab", "--lang", "--build-timeout", "--start-timeout", "--http-timeout"}
    | {"-k", "-m", "-p", "-c", "-o", "--rootdir", "--junitxml", "--basetemp", "--confcutdir"}
)
"""Options followed by a value, to tell the value from a path argument."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Grading options."""
    group = parser.getgroup("grader", "docker-lab-grader")
    group.addoption(
        "--submission",
        action="append",
        default=[],
        metavar="PATH",
        help="submission folder to grade (repeatable; default: the current folder)",
    )
    group.addoption(
        "--lab",
        default=None,
        metavar="ID",
        help="lab id (tp6...), a lab .toml file, or auto (default)",
    )
    group.addoption("--lang", default=None, choices=("fr", "en"), help="feedback language")
    for name, what in (
        ("build", "a build"),
        ("start", "the app to answer"),
        ("http", "one HTTP request"),
    ):
        group.addoption(
            f"--{name}-timeout",
            type=float,
            default=None,
            metavar="S",
            help=f"longest {what} may take, in seconds",
        )


def _has_path_argument(args: list[str]) -> bool:
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return True
    return False


def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """``pytest --lab tp6`` collects the rubric, not the current folder's tests."""
    wants = any(a.split("=", 1)[0] in ("--submission", "--lab") for a in args)
    if wants and not _has_path_argument(args):
        args.append(str(rubric_dir()))


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; set up the grading session when grading was asked for."""
    config.addinivalue_line("markers", "check(id): the rubric check id this test grades")
    handed = [p for p in config.pluginmanager.get_plugins() if isinstance(p, GradingSession)]
    if handed:
        config.stash[SESSION_KEY] = handed[0]
        return
    if not (config.getoption("submission") or config.getoption("lab")):
        return
    session = _session_from_options(config)
    config.pluginmanager.register(session, "grader-session")
    config.stash[SESSION_KEY] = session


def _session_from_options(config: pytest.Config) -> GradingSession:
    paths = [Path(p) for p in config.getoption("submission")] or [Path.cwd()]
    lab_ref = config.getoption("lab") or "auto"
    try:
        pairs = [(s, _lab_for(s, lab_ref)) for s in map(load_submission, paths)]
    except GraderError as exc:
        raise pytest.UsageError(str(exc)) from exc
    options = Options(
        lang=config.getoption("lang"),
        build_timeout_s=config.getoption("build_timeout"),
        start_timeout_s=config.getoption("start_timeout"),
        http_timeout_s=config.getoption("http_timeout"),
    )
    return GradingSession(pairs, options, Engine, new_run_labels())


def _lab_for(submission: Submission, lab_ref: str) -> LabSpec:
    lab = choose_lab(submission.root, lab_ref)
    if lab is None:
        raise pytest.UsageError(f"{submission.name}: cannot tell which lab it is; use --lab ID")
    return lab


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One copy of each check per submission; ids are the submissions' names."""
    session = metafunc.config.stash.get(SESSION_KEY, None)
    if session is None or "submission" not in metafunc.fixturenames:
        return
    subs = session.submissions
    metafunc.parametrize(
        "submission", subs, ids=[s.name for s in subs], indirect=True, scope="session"
    )


# -- fixtures: thin accessors over the submission's Pipeline ---------------------------------


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest) -> Submission:
    """The submission being graded."""
    value: Submission = request.param
    return value


@pytest.fixture(scope="session")
def pipeline(
    submission: Submission, request: pytest.FixtureRequest
) -> Generator[Pipeline, None, None]:
    """The submission's pipeline; its container is removed when its checks are done."""
    session = request.config.stash[SESSION_KEY]
    yield session.pipeline(submission)
    session.finish(submission)


@pytest.fixture
def lab(pipeline: Pipeline) -> LabSpec:
    """The lab the submission is graded against."""
    return pipeline.lab


@pytest.fixture
def grade(pipeline: Pipeline, request: pytest.FixtureRequest) -> Grade:
    """The verdict helper of the current check."""
    check_id = check_id_of(request.node)
    spec = pipeline.lab.check(check_id) if check_id else None
    if check_id is None or spec is None:
        raise pytest.UsageError(f"{request.node.nodeid}: not a check of lab {pipeline.lab.id}")
    limits = {"memory": pipeline.options.sandbox.memory, "pids": pipeline.options.sandbox.pids}
    return Grade(check_id, spec.params, pipeline.options.lang, request.node, limits)


@pytest.fixture
def dockerfile(pipeline: Pipeline) -> DockerfileFacts:
    """Static facts of the Dockerfile."""
    return pipeline.dockerfile


@pytest.fixture
def dockerfile_or_none(pipeline: Pipeline) -> DockerfileFacts | None:
    """Static facts of the Dockerfile when it could be read (for evidence only)."""
    try:
        return pipeline.dockerfile
    except SubmissionError:
        return None


@pytest.fixture
def dockerfile_problem(pipeline: Pipeline) -> str | None:
    """Why the Dockerfile found cannot be used (binary, too large), or None."""
    try:
        _ = pipeline.dockerfile
    except SubmissionRejected as exc:
        return str(exc)
    except NoDockerfile:
        return None
    return None


@pytest.fixture
def build_outcome(pipeline: Pipeline) -> BuildResult | BuildFailed | BuildTimedOut:
    """The build, or how it failed: for the check that grades the build itself."""
    try:
        return pipeline.build
    except (BuildFailed, BuildTimedOut) as exc:
        return exc


@pytest.fixture
def image(pipeline: Pipeline) -> ImageFacts:
    """The final image's facts."""
    return pipeline.image


@pytest.fixture
def image_config(pipeline: Pipeline, request: pytest.FixtureRequest) -> ImageFacts:
    """The final image's configuration; when the image does not build and the lab's
    ``on_build_failure`` is ``dockerfile``, the one its Dockerfile states (the check's
    feedback then says so)."""
    try:
        return pipeline.image
    except (BuildFailed, BuildTimedOut, ContextRejected):
        if pipeline.lab.on_build_failure != "dockerfile":
            raise
        stated = stated_image(pipeline.dockerfile)
        request.node.stash[STATED_KEY] = True
        return stated


@pytest.fixture
def start(pipeline: Pipeline) -> StartResult:
    """What happened when the container was started."""
    return pipeline.start


@pytest.fixture
def runtime_or_none(pipeline: Pipeline) -> RuntimeFacts | None:
    """Facts from inside the running container, None when it could not run."""
    try:
        return pipeline.runtime
    except StageFailed:
        return None


@pytest.fixture
def dev_packages(pipeline: Pipeline) -> DevPackages:
    """Development dependencies installed in the final image."""
    return pipeline.dev_packages


@pytest.fixture
def sizes(pipeline: Pipeline) -> SizeFacts:
    """The final image's size against its single-stage equivalent."""
    return pipeline.sizes


@pytest.fixture
def declaration(pipeline: Pipeline) -> Declaration:
    """The image the student declares in submission.toml."""
    return pipeline.declaration


@pytest.fixture
def registry_status(pipeline: Pipeline) -> int:
    """HTTP status of the declared image's manifest in its registry."""
    return pipeline.registry_status


@pytest.fixture
def registry_probe(pipeline: Pipeline) -> ProbeResult:
    """GET the lab's page from a container of the pulled image."""
    return pipeline.registry_probe


@pytest.fixture
def root_probe(pipeline: Pipeline) -> ProbeResult:
    """GET the lab's page."""
    return pipeline.root_probe


@pytest.fixture
def missing_probe(pipeline: Pipeline) -> ProbeResult:
    """GET a path that cannot exist."""
    return pipeline.missing_probe


# -- static and log diagnoses (issue 7) ------------------------------------------------------


@pytest.fixture
def lint(pipeline: Pipeline) -> LintFacts:
    """hadolint's findings on the Dockerfile."""
    return pipeline.lint


@pytest.fixture
def build_context(pipeline: Pipeline) -> ContextFacts:
    """The build context Docker is sent."""
    return pipeline.context


@pytest.fixture
def layer_cache(pipeline: Pipeline) -> CacheFacts:
    """What re-ran when the app code changed by one line."""
    return pipeline.layer_cache


@pytest.fixture
def stop(pipeline: Pipeline) -> StopFacts:
    """How the container stopped on docker stop."""
    return pipeline.stop


@pytest.fixture
def waste(pipeline: Pipeline) -> WasteFacts:
    """Per-layer sizes and the bytes the student's layers waste."""
    return pipeline.waste

"""grader/grading/verdicts.py: why a stage failed, told to the student; errors are not their
fault."""

from __future__ import annotations

from grader.errors import (
    BuildFailed,
    BuildTimedOut,
    ContainerExited,
    EngineError,
    EngineUnavailable,
    NeverReady,
    NoDockerfile,
    ProbeFailed,
    RegistryUnreachable,
    SubmissionRejected,
    ToolError,
)
from grader.facts import Socket
from grader.facts.results import Status
from grader.grading.verdicts import (
    describe,
    error_cause,
    never_ready_feedback,
    result,
    stage_feedback,
)
from grader.i18n import t

LOG = "[INFO] Starting gunicorn\n[INFO] Listening at: http://127.0.0.1:8000\n"


def never_ready(listening: tuple[Socket, ...] | None, port: int = 8000) -> NeverReady:
    return NeverReady(30.2, port, listening, LOG)


# -- never_ready_feedback --------------------------------------------------------------------


def test_only_loopback_on_the_port() -> None:
    fb = never_ready_feedback(never_ready((Socket("127.0.0.1", 8000),)), "en")
    assert fb.summary == t("not_run.never_ready_loopback.summary", "en", socket="127.0.0.1:8000")
    assert "127.0.0.1:8000" in fb.summary
    assert "127.0.0.1:8000" in fb.found
    assert "0.0.0.0:8000" in fb.expected
    assert fb.evidence == LOG


def test_ipv6_loopback_is_shown_in_brackets() -> None:
    fb = never_ready_feedback(never_ready((Socket("::1", 8000),)), "fr")
    assert fb.summary == t("not_run.never_ready_loopback.summary", "fr", socket="[::1]:8000")


def test_loopback_on_the_port_is_named_before_other_loopback_sockets() -> None:
    sockets = (Socket("127.0.0.1", 5000), Socket("127.0.0.1", 8000))
    fb = never_ready_feedback(never_ready(sockets), "en")
    assert "127.0.0.1:8000" in fb.summary
    assert "5000" not in fb.summary


def test_loopback_on_another_port_is_still_loopback() -> None:
    fb = never_ready_feedback(never_ready((Socket("127.0.0.1", 5000),)), "en")
    assert fb.summary == t("not_run.never_ready_loopback.summary", "en", socket="127.0.0.1:5000")


def test_other_port() -> None:
    sockets = (Socket("0.0.0.0", 5000), Socket("0.0.0.0", 5001))
    fb = never_ready_feedback(never_ready(sockets), "en")
    assert fb.summary == t(
        "not_run.never_ready_other_port.summary", "en", ports="5000, 5001", port=8000
    )
    assert fb.summary.endswith("not on 8000.")
    assert fb.found == "listening on 5000, 5001"
    assert fb.evidence == "0.0.0.0:5000\n0.0.0.0:5001"


def test_nothing_listening() -> None:
    fb = never_ready_feedback(never_ready(()), "en")
    assert fb.summary == "Not run: nothing listens in the container after 30 s."
    assert "8000" in fb.expected
    assert fb.evidence == LOG


def test_unknown_sockets() -> None:
    fb = never_ready_feedback(never_ready(None), "en")
    assert fb.summary == "Not run: the app did not answer on port 8000 within 30 s."
    assert fb.evidence == LOG


def test_listening_on_the_right_port_is_not_called_another_port() -> None:
    """0.0.0.0:8000 is listening but HTTP never answered (e.g. a hung worker): the app does
    listen on the lab's port, so telling the student it listens on 'port 8000, not on 8000'
    is wrong."""
    fb = never_ready_feedback(never_ready((Socket("0.0.0.0", 8000),)), "en")
    assert fb.summary != "Not run: the app listens on port 8000, not on 8000."
    assert "not on 8000" not in fb.summary


# -- stage_feedback --------------------------------------------------------------------------


def test_no_dockerfile() -> None:
    status, fb = stage_feedback(NoDockerfile("/s/alice", ["Dockerfile", "dockerfile"]), "en")
    assert status is Status.FAILED
    assert fb.summary == "Not run: there is no Dockerfile."


def test_rejected() -> None:
    status, fb = stage_feedback(SubmissionRejected("Dockerfile is a binary file"), "en")
    assert status is Status.FAILED
    assert fb.found == "Dockerfile is a binary file"


def test_build_failed() -> None:
    exc = BuildFailed("The command returned a non-zero code: 1\nmore", "log", "RUN x", 4)
    status, fb = stage_feedback(exc, "en")
    assert status is Status.FAILED
    assert fb.found == "The command returned a non-zero code: 1"
    assert fb.summary == "Not run: the image does not build."


def test_build_timed_out() -> None:
    status, fb = stage_feedback(BuildTimedOut(300.0, "log"), "fr")
    assert status is Status.FAILED
    assert fb.summary == "Non évalué : le build ne s'est pas terminé en 300 s."


def test_container_exited_shows_the_key_line_of_its_log() -> None:
    log = (
        "[INFO] Booting worker with pid: 7\n"
        "Traceback (most recent call last):\n"
        '  File "/app/app.py", line 1, in <module>\n'
        "ModuleNotFoundError: No module named 'flask'\n"
        "[INFO] Worker exiting (pid: 7)\n"
    )
    status, fb = stage_feedback(ContainerExited(3, log), "en")
    assert status is Status.FAILED
    assert fb.found == "ModuleNotFoundError: No module named 'flask'"
    assert fb.summary == "Not run: the container stopped at start (exit status 3)."
    assert fb.evidence == log.rstrip("\n")


def test_container_exited_without_output() -> None:
    _, fb = stage_feedback(ContainerExited(0, ""), "en")
    assert fb.found == "-"


def test_never_ready_goes_through_never_ready_feedback() -> None:
    exc = never_ready((Socket("127.0.0.1", 8000),))
    status, fb = stage_feedback(exc, "en")
    assert status is Status.FAILED
    assert fb == never_ready_feedback(exc, "en")


def test_probe_failed() -> None:
    status, fb = stage_feedback(ProbeFailed("http://127.0.0.1:49153/", "reset"), "en")
    assert status is Status.FAILED
    assert fb.summary == "Not run: the request to http://127.0.0.1:49153/ failed (reset)."
    assert fb.found == "reset"


def test_engine_error_is_an_error_not_a_failure() -> None:
    status, fb = stage_feedback(EngineError("inspect: 500 Server Error"), "en")
    assert status is Status.ERROR
    assert "inspect: 500 Server Error" in fb.summary
    assert "not your fault" in fb.summary
    status, _ = stage_feedback(EngineUnavailable("no engine"), "en")
    assert status is Status.ERROR


def test_a_grader_bug_is_an_error_naming_the_exception() -> None:
    status, fb = stage_feedback(RuntimeError("boom"), "en")
    assert status is Status.ERROR
    assert fb.summary == t("error.internal.summary", "en", detail="RuntimeError: boom")
    assert "RuntimeError: boom" in fb.summary


# -- result, describe ------------------------------------------------------------------------


def test_only_a_pass_earns_the_points() -> None:
    _, fb = stage_feedback(RuntimeError("boom"), "en")
    passed = result("run.starts", Status.PASSED, 2.0, None)
    assert (passed.score, passed.max_score, passed.message) == (2.0, 2.0, "")
    failed = result("run.starts", Status.FAILED, 2.0, fb)
    assert (failed.score, failed.max_score) == (0.0, 2.0)
    assert failed.message == fb.as_text()
    assert failed.feedback == fb


def test_describe() -> None:
    assert describe(None) == "unknown"
    assert describe(()) == "none"
    assert describe((Socket("0.0.0.0", 8000), Socket("::1", 9000))) == "0.0.0.0:8000, [::1]:9000"


def test_error_cause_names_who_failed_and_only_errors_keep_it() -> None:
    assert error_cause(RegistryUnreachable("registry-1.docker.io", "timed out")) == "registry"
    assert error_cause(EngineError("build: EOF")) == "engine"
    assert error_cause(EngineUnavailable("no engine")) == "engine"
    assert error_cause(ToolError("hadolint", "crashed")) == "tool"
    assert error_cause(KeyError("x")) == "internal"
    assert result("run.starts", Status.ERROR, 2.0, None, "engine").cause == "engine"
    assert result("run.starts", Status.FAILED, 2.0, None, "engine").cause == ""

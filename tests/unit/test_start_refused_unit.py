"""A start the engine refuses for the image's reasons is the student's run.starts failure,
with the engine's message and a diagnosis (issue 16.3); the engine's own faults are not."""

from __future__ import annotations

import pytest

from checks.test_run import test_starts as starts_check
from grader.errors import StartRefused
from grader.facts import StartResult
from grader.grading.rubric import Grade
from grader.stages.run import engine_message, refused_by_image, refused_result

PREFIX = (
    "start container: failed to create task for container: failed to create shim task: "
    "OCI runtime create failed: runc create failed: "
)
REFUSALS = {
    "missing": PREFIX + 'unable to start container process: exec: "gunicorn": executable file '
    "not found in $PATH: unknown",
    "not_executable": PREFIX + 'unable to start container process: exec: "/noexec.sh": '
    "permission denied: unknown",
    "no_file": PREFIX + 'unable to start container process: exec: "/nope.sh": stat /nope.sh: '
    "no such file or directory: unknown",
    "user": "start container: unable to find user app: no matching entries in passwd file",
}
MACHINE = [
    "start container: driver failed programming external connectivity on endpoint x: "
    "Bind for 127.0.0.1:8000 failed: port is already allocated",
    PREFIX + "unable to apply cgroup configuration: mkdir /sys/fs/cgroup/pids/docker: "
    "no space left on device: unknown",
    "start container: ConnectionError: ('Connection aborted.', RemoteDisconnected())",
]


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_the_image_refusals_are_recognised_and_their_message_kept(name: str) -> None:
    message = REFUSALS[name]
    assert refused_by_image(message)
    shown = engine_message(message)
    assert not shown.startswith(("start container", "failed to create"))
    assert not shown.endswith(": unknown")


@pytest.mark.parametrize("message", MACHINE)
def test_the_engine_s_own_faults_are_not_the_image_s(message: str) -> None:
    assert not refused_by_image(message)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("missing", "does not exist in the image"),
        ("not_executable", "is not executable"),
        ("no_file", "is not at that path"),
        ("user", "USER names a user"),
    ],
)
def test_run_starts_fails_with_the_engine_s_message_and_the_diagnosis(
    name: str, words: str
) -> None:
    refused = StartRefused("c1", engine_message(REFUSALS[name]), 127)
    result = refused_result(refused, 8000)
    assert isinstance(result, StartResult) and result.refused and not result.running
    with pytest.raises(pytest.fail.Exception) as failed:
        starts_check(result, None, Grade("run.starts", None, "en", None))
    text = str(failed.value)
    assert text.startswith("The engine refused to start the container: ")
    assert words in text
    assert refused.message in text


def test_an_unknown_refusal_still_shows_the_engine_s_message() -> None:
    result = refused_result(StartRefused("c1", "exec format error", 1), 8000)
    with pytest.raises(pytest.fail.Exception) as failed:
        starts_check(result, None, Grade("run.starts", None, "en", None))
    assert "for a reason in the image" in str(failed.value)
    assert "exec format error" in str(failed.value)

"""Real-engine fixtures: the engine, a sweep of the grader's leftovers, one graded class."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.engine import Engine
from grader.labels import LABEL, live_pid, owner_of, owner_pid

BIN = Path(sys.executable).parent


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def _someone_else(labels: dict[str, str] | None) -> bool:
    """True for an object that is not this test session's: owned by a live process on this
    host outside it (another grading run on a shared engine), or with no owner at all (an
    intermediate image of a build in progress, which inherits only the build's first labels).
    Ours, our children's and dead owners' objects count."""
    owner = owner_of(labels or {})
    if owner is None:
        return True
    current = live_pid(owner)  # None: dead (even if its pid now runs another process)
    while current:
        if current == os.getpid():
            return False
        current = _parent(current)
    return True


def submission_copy(repo_root: Path, tmp_path: Path, name: str) -> Path:
    """A copy of the bundled submission ``name`` under ``tmp_path/in`` (a folder of its own)."""
    folder = tmp_path / "in" / name
    shutil.copytree(repo_root / "submissions" / name, folder)
    return folder


def written_report(out: Path, name: str) -> dict[str, Any]:
    """The report.json ``grade`` wrote for ``name`` into ``out``."""
    report: dict[str, Any] = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return report


def written_statuses(out: Path, name: str) -> dict[str, str]:
    """Each check's status in the report ``grade`` wrote for ``name``."""
    return {c["id"]: c["status"] for c in written_report(out, name)["checks"]}


def tp6_lab_with(repo_root: Path, folder: Path, limit: str) -> Path:
    """A copy of the tp6 lab file in ``folder`` with one more line in its limits, e.g.
    ``context_limit_bytes = 1000``."""
    lab = folder / "tp6-limited.toml"
    text = (repo_root / "grader/labs/tp6.toml").read_text(encoding="utf-8")
    lab.write_text(text.replace("http_timeout_s = 5", f"http_timeout_s = 5\n{limit}"), "utf-8")
    return lab


def grader_objects(engine: Engine) -> tuple[list[Any], list[Any]]:
    """Containers and images that carry the grader's label, left by this test session."""
    api = engine.api
    containers = api.containers(all=True, filters={"label": LABEL})
    images = api.images(filters={"label": LABEL})
    return (
        [c for c in containers if not _someone_else(c.get("Labels"))],
        [i for i in images if not _someone_else(i.get("Labels"))],
    )


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The real engine (make test starts one); fails, never skips, when there is none."""
    eng = Engine()
    eng.sweep()
    yield eng
    eng.sweep()
    eng.close()


@pytest.fixture
def leftovers(engine: Engine) -> Callable[[], tuple[list[Any], list[Any]]]:
    """Call it to list the grader-labelled containers and images still in the engine."""
    return lambda: grader_objects(engine)


def owned_by(pid: int, objects: list[Any]) -> list[Any]:
    """The containers, images or networks among ``objects`` whose owner label names the
    process ``pid`` of this host (whatever its start time: it may have exited)."""
    return [o for o in objects if owner_pid(owner_of(o.get("Labels") or {}) or "") == pid]


def owner_rules(pid: int) -> str:
    """What the firewall rules of process ``pid``'s isolation carry in their comment."""
    return f"owner={socket.gethostname()}:{pid}-"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real registry (Debian's docker-registry) on 127.0.0.1; yields ``127.0.0.1:PORT``."""
    with registry_server(tmp_path_factory.mktemp("registry")) as address:
        yield address


@contextlib.contextmanager
def registry_server(folder: Path, auth: str = "") -> Iterator[str]:
    """Debian's docker-registry serving from ``folder`` on a free port of 127.0.0.1, with the
    ``auth`` section of its configuration (none: anonymous); yields ``127.0.0.1:PORT`` once
    it answers, and stops it afterwards."""
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is missing: make test installs it (scripts/tools.sh)"
    address = f"127.0.0.1:{free_port()}"
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: {address}\n"
        f"{auth}"
        "log:\n  level: warn\n",
        encoding="utf-8",
    )
    log = (folder / "registry.log").open("w")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                    break
            except urllib.error.HTTPError:  # it answers (401: it asks for credentials)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def push_submission(engine: Engine, folder: Path, reference: str) -> None:
    """Build a submission as its student would (``docker build``: BuildKit where the CLI has
    buildx), push it, and drop the local copy."""
    api = engine.api
    env = {**os.environ, "DOCKER_HOST": engine.base_url}
    built = subprocess.run(
        ["docker", "build", "-q", "-t", reference, str(folder)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    repository, tag = reference.rsplit(":", 1)
    for chunk in api.push(repository, tag=tag, stream=True, decode=True):
        assert "error" not in chunk, chunk
    api.remove_image(reference, force=True)


@pytest.fixture(scope="session")
def class_copy(
    engine: Engine,
    repo_root: Path,
    local_registry: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The bundled class, with the declared images of the tp6bis submissions that score full
    marks pushed to the local registry."""
    folder = tmp_path_factory.mktemp("class") / "submissions"
    shutil.copytree(repo_root / "submissions", folder)
    for name, (student, repository) in PUSHED.items():
        reference = f"{local_registry}/{repository}:1.0"
        push_submission(engine, folder / name, reference)
        (folder / name / "submission.toml").write_text(
            f'student = "{student}"\nimage = "{reference}"\n', encoding="utf-8"
        )
    return folder


PUSHED = {
    "tp6bis-ok": ("Martin Camille", "camille/tp6bis"),
    "tp6bis-no-sigterm-listener": ("Petit Lucas", "lucas/tp6bis"),
    "tp6bis-secret-mount": ("Martin Camille", "camille/tp6bis-secret-mount"),
    "tp6bis-unused-broken-stage": ("Martin Camille", "camille/tp6bis-unused-stage"),
}
"""The bundled submissions whose declared image is in the registry: student, repository."""


@pytest.fixture(scope="session")
def graded_class(
    engine: Engine, repo_root: Path, class_copy: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """`grade <class>/` run once, as a user runs it; its output and reports."""
    return grade_class(engine, repo_root, class_copy, tmp_path_factory)


@pytest.fixture(scope="session")
def graded_class_classic(
    engine: Engine, repo_root: Path, class_copy: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """`grade --builder classic <class>/` run once: the builder of engines without BuildKit."""
    return grade_class(engine, repo_root, class_copy, tmp_path_factory, "--builder", "classic")


def grade_class(
    engine: Engine,
    repo_root: Path,
    class_copy: Path,
    tmp_path_factory: pytest.TempPathFactory,
    *flags: str,
) -> dict[str, Any]:
    """Grade the class as a user does; its output, reports and what it left behind."""
    out = tmp_path_factory.mktemp("reports")
    proc = subprocess.run(
        [str(BIN / "grade"), str(class_copy), "--output", str(out), *flags],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=repo_root,
    )
    reports = {
        p.parent.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(out.glob("*/report.json"))
    }
    leftovers = grader_objects(engine)
    return {
        "proc": proc,
        "out": out,
        "reports": reports,
        "leftovers": leftovers,
        "class": class_copy,
    }

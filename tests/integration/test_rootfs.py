"""The development packages of a running container looked at from the host (``/proc/<pid>/root``)
on the real engine: the container's view, never the host's; a link hands over to testinfra."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine import Engine
from grader.labels import new_run_labels
from grader.stages import rootfs, runtime
from grader.stages.runtime import MainProcess

pytestmark = [pytest.mark.docker]

TREE = """FROM python:3.11-slim
RUN mkdir -p /app/node_modules/plain /opt/linked {host}/hostonly \\
 && echo '{{}}' > /app/node_modules/plain/package.json \\
 && echo '{{}}' > /opt/linked/package.json \\
 && ln -s /opt/linked /app/node_modules/linked \\
 && ln -s {host}/hostonly /app/node_modules/hostonly
CMD ["python", "-c", "import time; time.sleep(3600)"]
"""
"""``plain`` installed; ``linked`` installed through an absolute link (to the container's /opt);
``hostonly`` a link to a folder that holds a package.json on the host only."""


@pytest.fixture(scope="module")
def running(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, MainProcess]]:
    host = tmp_path_factory.mktemp("host").resolve()
    (host / "hostonly").mkdir()
    (host / "hostonly" / "package.json").write_text("{}")  # on the host, not in the container
    labels = new_run_labels()
    stream = engine.api.build(
        fileobj=io.BytesIO(TREE.format(host=host).encode()),
        labels=labels,
        rm=True,
        forcerm=True,
        decode=True,
    )
    image = ""
    for event in stream:
        assert "error" not in event, event
        image = (event.get("aux") or {}).get("ID", image)
    created = engine.api.create_container(
        image, labels=labels, stop_signal="SIGKILL", network_disabled=True
    )
    try:
        engine.api.start(created["Id"])
        main = runtime.main_process(engine, created["Id"])
        assert main is not None and main.proc is not None, "a local engine: its /proc is here"
        yield created["Id"], main
    finally:
        engine.api.remove_container(created["Id"], force=True)
        engine.api.remove_image(image, force=True)


def test_packages_are_seen_from_the_host(engine: Engine, running: tuple[str, MainProcess]) -> None:
    cid, main = running
    found = runtime.dev_packages(engine, cid, "/app", ("plain", "absent"), main)
    assert (found.method, found.present) == ("host", ("plain",))


def test_a_link_is_resolved_in_the_container_not_on_the_host(
    engine: Engine, running: tuple[str, MainProcess]
) -> None:
    cid, main = running
    found = runtime.dev_packages(engine, cid, "/app", ("plain", "linked", "hostonly"), main)
    assert (found.method, found.present) == ("testinfra", ("plain", "linked"))


def test_another_containers_process_is_not_looked_at(
    engine: Engine, running: tuple[str, MainProcess]
) -> None:
    cid, main = running
    assert main.proc is not None
    path = ["/app/node_modules/plain/package.json"]
    assert rootfs.files_present(main.proc, cid, path) == [True]
    assert rootfs.files_present(main.proc, "0" * 64, path) is None
    assert rootfs.files_present(Path("/proc/self"), cid, path) is None

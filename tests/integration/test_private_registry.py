"""A private image in a real registry that asks for a password (Debian's docker-registry with
an htpasswd file, on 127.0.0.1): the manifest request and the engine's pull carry the
configured credentials; without them the pull is the student's PullFailed; a registry that
does not answer is ours, RegistryUnreachable (issue 16.3)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from grader.engine import Engine
from grader.errors import PullFailed, RegistryUnreachable
from grader.labels import new_run_labels
from grader.stages import registry
from tests.integration.conftest import free_port, registry_server

pytestmark = [pytest.mark.docker, pytest.mark.slow]

USER, PASSWORD = "camille", "s3cr3t"
HTPASSWD = "camille:$2b$12$uN.hGYpPMCT9EZEN80oWmOgWxLE/TOeKTRcIcK8R7CwaPiMG7ygT.\n"
"""bcrypt of PASSWORD (made once with Python's crypt, METHOD_BLOWFISH)."""


@pytest.fixture(scope="module")
def private_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry that asks for a password (htpasswd), on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("private-registry")
    (folder / "htpasswd").write_text(HTPASSWD, encoding="utf-8")
    auth = f"auth:\n  htpasswd:\n    realm: grader-test\n    path: {folder / 'htpasswd'}\n"
    with registry_server(folder, auth) as address:
        yield address


@pytest.fixture(scope="module")
def private_image(
    engine: Engine, private_registry: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A tiny image (FROM scratch, one file) pushed with the password; the local copy dropped."""
    folder = tmp_path_factory.mktemp("private-image")
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n", encoding="utf-8")
    (folder / "hello.txt").write_text("hello\n", encoding="utf-8")
    reference = f"{private_registry}/camille/private:1.0"
    api = engine.api
    labels = new_run_labels()
    for chunk in api.build(path=str(folder), tag=reference, labels=labels, rm=True, decode=True):
        assert "error" not in chunk, chunk
    auth = {"username": USER, "password": PASSWORD}
    for chunk in api.push(
        reference.rsplit(":", 1)[0], tag="1.0", auth_config=auth, stream=True, decode=True
    ):
        assert "error" not in chunk, chunk
    api.remove_image(reference, force=True)
    return reference


def test_a_private_image_is_seen_and_pulled_with_the_configured_credentials(
    engine: Engine, private_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = registry.parse_reference(private_image)
    monkeypatch.delenv("GRADER_REGISTRY_USER", raising=False)
    monkeypatch.delenv("GRADER_REGISTRY_PASSWORD", raising=False)
    assert registry.manifest_status(ref, 5) == 401
    with pytest.raises(PullFailed):  # no credentials: the registry refuses, as for a student
        engine.pull(ref.pull_name, registry.pull_auth(ref.registry))
    monkeypatch.setenv("GRADER_REGISTRY_USER", USER)
    monkeypatch.setenv("GRADER_REGISTRY_PASSWORD", PASSWORD)
    monkeypatch.delenv("GRADER_REGISTRY_HOST", raising=False)  # configured for Docker Hub
    assert registry.manifest_status(ref, 5) == 401  # never to a registry they are not for
    assert registry.pull_auth(ref.registry) is None
    monkeypatch.setenv("GRADER_REGISTRY_HOST", ref.registry)
    assert registry.manifest_status(ref, 5) == 200
    image_id = engine.pull(ref.pull_name, registry.pull_auth(ref.registry))
    try:
        assert image_id.startswith("sha256:")
    finally:
        engine.api.remove_image(image_id, force=True)


def test_a_pull_from_a_registry_that_does_not_answer_is_ours(engine: Engine) -> None:
    with pytest.raises(RegistryUnreachable) as raised:
        engine.pull(f"127.0.0.1:{free_port()}/camille/app:1.0")
    assert raised.value.registry.startswith("127.0.0.1:")

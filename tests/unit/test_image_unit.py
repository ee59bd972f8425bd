"""grader/stages/image.py: uid resolution, exposed ports, normalising ``docker image inspect``."""

from __future__ import annotations

from typing import Any

import pytest

from grader.stages.image import (
    exposed_ports,
    facts_from_inspect,
    needs_passwd,
    resolve_uid,
    uid_from_passwd,
)

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:1001:1001::/home/app:/bin/sh
"""

INSPECT: dict[str, Any] = {
    "Id": "sha256:" + "3f" * 32,
    "RepoTags": [],
    "Created": "2024-03-01T10:00:00.000000000Z",
    "Config": {
        "Hostname": "",
        "User": "app",
        "ExposedPorts": {"8000/tcp": {}, "53/udp": {}},
        "Env": [
            "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
            "PYTHON_VERSION=3.11.9",
            "OPTS=--a=1 --b=2",
            "EMPTY=",
        ],
        "Cmd": ["--config", "config.py", "app:app"],
        "Image": "",
        "Volumes": None,
        "WorkingDir": "/app",
        "Entrypoint": ["gunicorn"],
        "OnBuild": None,
        "Labels": {"maintainer": "Ada Lovelace", "org.docker-lab-grader": "1"},
    },
    "Architecture": "amd64",
    "Os": "linux",
    "Size": 154_832_211,
    "RootFS": {
        "Type": "layers",
        "Layers": ["sha256:" + c * 64 for c in "abcdef"],
    },
}


@pytest.mark.parametrize(
    ("user", "uid"),
    [("", 0), ("1000", 1000), ("1000:1000", 1000), (" 1001 ", 1001), ("0", 0)],
)
def test_resolve_uid_without_passwd(user: str, uid: int) -> None:
    assert resolve_uid(user, None) == uid


@pytest.mark.parametrize(
    ("user", "uid"),
    [("app", 1001), ("app:app", 1001), ("root", 0), ("nobody", 65534), ("ghost", None)],
)
def test_resolve_uid_through_passwd(user: str, uid: int | None) -> None:
    assert resolve_uid(user, PASSWD) == uid


def test_named_user_without_passwd_is_unknown() -> None:
    assert resolve_uid("app", None) is None


def test_uid_from_passwd_needs_an_exact_name() -> None:
    assert uid_from_passwd("ap", PASSWD) is None
    assert uid_from_passwd("daemon", PASSWD) == 1


def test_needs_passwd() -> None:
    assert needs_passwd("app") is True
    assert needs_passwd("app:1000") is True
    assert needs_passwd("1000") is False
    assert needs_passwd("1000:app") is False
    assert needs_passwd("") is False


def test_exposed_ports_keeps_tcp_only() -> None:
    assert exposed_ports({"ExposedPorts": {"8000/tcp": {}, "53/udp": {}}}) == frozenset({8000})
    assert exposed_ports({"ExposedPorts": {"80": {}}}) == frozenset({80})
    assert exposed_ports({"ExposedPorts": None}) == frozenset()
    assert exposed_ports({}) == frozenset()


def test_facts_from_inspect() -> None:
    facts = facts_from_inspect(INSPECT, PASSWD)
    assert facts.image_id == INSPECT["Id"]
    assert facts.labels == {"maintainer": "Ada Lovelace", "org.docker-lab-grader": "1"}
    assert facts.user == "app"
    assert facts.uid == 1001
    assert facts.exposed_ports == frozenset({8000})
    assert facts.entrypoint == ("gunicorn",)
    assert facts.cmd == ("--config", "config.py", "app:app")
    assert facts.workdir == "/app"
    assert facts.env["LANG"] == "C.UTF-8"
    assert facts.env["OPTS"] == "--a=1 --b=2"
    assert facts.env["EMPTY"] == ""
    assert len(facts.env) == 5
    assert facts.size == 154_832_211
    assert facts.layers == 6


def test_facts_from_inspect_of_a_bare_image() -> None:
    attrs = {"Id": "sha256:00", "Config": {"User": "", "Entrypoint": None, "Cmd": None}}
    facts = facts_from_inspect(attrs, None)
    assert facts.uid == 0
    assert facts.user == ""
    assert facts.labels == {}
    assert facts.entrypoint is None
    assert facts.cmd is None
    assert facts.exposed_ports == frozenset()
    assert facts.workdir == ""
    assert facts.env == {}
    assert (facts.size, facts.layers) == (0, 0)

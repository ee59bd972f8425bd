"""``image_facts`` -> ImageFacts: the final image's config from ``docker inspect``, normalised."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from grader.engine import Engine
from grader.facts import ImageFacts

log = logging.getLogger(__name__)


def uid_from_passwd(name: str, passwd: str) -> int | None:
    """The uid of user ``name`` in an ``/etc/passwd`` text, or None."""
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    return None


def needs_passwd(user: str) -> bool:
    """True when ``Config.User`` names a user rather than a numeric uid."""
    who = user.split(":", 1)[0].strip()
    return bool(who) and not who.isdigit()


def resolve_uid(user: str, passwd: str | None) -> int | None:
    """The uid ``Config.User`` stands for: empty is root (0), numbers are taken as they are
    (``USER 1000`` with no passwd entry still runs as uid 1000), names go through passwd."""
    who = user.split(":", 1)[0].strip()
    if not who:
        return 0
    if who.isdigit():
        return int(who)
    return uid_from_passwd(who, passwd or "")


def exposed_ports(config: Mapping[str, Any]) -> frozenset[int]:
    """TCP ports of ``Config.ExposedPorts`` (``{"8000/tcp": {}}``) as ints."""
    ports = set()
    for key in config.get("ExposedPorts") or {}:
        number, _, proto = str(key).partition("/")
        if number.isdigit() and proto in ("", "tcp"):
            ports.add(int(number))
    return frozenset(ports)


def _tuple(value: Any) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if value else None


def workdir_of(config: Mapping[str, Any]) -> str:
    """The WORKDIR of an image's ``Config`` (pure): empty when none."""
    return str(config.get("WorkingDir") or "")


def size_of(attrs: Mapping[str, Any]) -> int:
    """An image's size in bytes, from ``docker image inspect`` (pure)."""
    return int(attrs.get("Size") or 0)


def facts_from_inspect(attrs: Mapping[str, Any], passwd: str | None) -> ImageFacts:
    """Normalise ``docker image inspect`` output (pure)."""
    config = attrs.get("Config") or {}
    user = str(config.get("User") or "")
    env = dict(str(e).partition("=")[::2] for e in config.get("Env") or [])
    return ImageFacts(
        image_id=str(attrs.get("Id", "")),
        labels={str(k): str(v) for k, v in (config.get("Labels") or {}).items()},
        user=user,
        uid=resolve_uid(user, passwd),
        exposed_ports=exposed_ports(config),
        entrypoint=_tuple(config.get("Entrypoint")),
        cmd=_tuple(config.get("Cmd")),
        workdir=workdir_of(config),
        env=env,
        size=size_of(attrs),
        layers=len((attrs.get("RootFS") or {}).get("Layers") or []),
        healthcheck=healthcheck_test(config),
    )


def image_facts(engine: Engine, image_id: str, labels: Mapping[str, str]) -> ImageFacts:
    """Inspect the final image; read its ``/etc/passwd`` only when the user is a name.

    Raises:
        EngineError: the engine failed.
    """
    attrs = engine.inspect_image(image_id)
    user = str((attrs.get("Config") or {}).get("User") or "")
    passwd = None
    if needs_passwd(user):
        raw = engine.read_image_file(image_id, "/etc/passwd", labels)
        passwd = raw.decode("utf-8", errors="replace") if raw else None
    return facts_from_inspect(attrs, passwd)


def healthcheck_test(config: dict[str, Any]) -> tuple[str, ...] | None:
    """``Config.Healthcheck.Test`` as a tuple; None when unset or ``NONE`` (disabled)."""
    test = (config.get("Healthcheck") or {}).get("Test") or []
    words = tuple(str(w) for w in test)
    return None if not words or words[0] == "NONE" else words

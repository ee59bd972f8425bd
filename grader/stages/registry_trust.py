"""Whom the grader trusts with the instructor's registry credentials, and which token
services it follows at all: a student names the registry, so the registry is untrusted.

- ``GRADER_REGISTRY_USER``/``GRADER_REGISTRY_PASSWORD`` go only to the token service of the
  registry they are for, ``GRADER_REGISTRY_HOST`` (Docker Hub, ``registry-1.docker.io``, when
  unset), and only over https: never to a realm another registry names, never in clear.
- A realm (the token service a registry's 401 names) is followed when it is on the registry's
  own server, or the registry is the configured one; otherwise only when every address of its
  host is public: a student's registry cannot make the grader call a service on the grading
  host, its link-local metadata service or the school's private network.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

HUB = "registry-1.docker.io"
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry.hub.docker.com", HUB})


def normalised(registry: str) -> str:
    """A registry host[:port] as ``Reference.registry`` spells it (Docker Hub's aliases as one)."""
    host = registry.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    return HUB if host in HUB_ALIASES else host


def configured_registry() -> str:
    """The registry the credentials are for: ``GRADER_REGISTRY_HOST``, else Docker Hub."""
    return normalised(os.environ.get("GRADER_REGISTRY_HOST") or HUB)


def credentials_for(registry: str, realm: str) -> tuple[str, str] | None:
    """The instructor's credentials when ``realm`` is the https token service of the registry
    they are configured for; None otherwise (an anonymous token is asked for)."""
    user = os.environ.get("GRADER_REGISTRY_USER")
    password = os.environ.get("GRADER_REGISTRY_PASSWORD")
    if not (user and password):
        return None
    if normalised(registry) != configured_registry() or urlsplit(realm).scheme != "https":
        log.info("registry credentials withheld from the token service of %s", registry)
        return None
    return user, password


def _public(host: str) -> bool:
    """True when every address ``host`` resolves to is a public one."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    return bool(addresses) and all(a.is_global and not a.is_multicast for a in addresses)


def may_follow(registry: str, realm: str) -> bool:
    """True when the grader may ask ``realm`` for a token on behalf of ``registry``."""
    url = urlsplit(realm)
    if url.scheme not in ("http", "https") or not url.hostname:
        return False
    if url.netloc.lower() == registry.lower() or normalised(registry) == configured_registry():
        return True
    if _public(url.hostname):
        return True
    log.warning("token service of %s not followed: %s is not a public address", registry, realm)
    return False

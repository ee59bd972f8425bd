"""Registry HTTP API v2: parse an image reference, ask whether its manifest exists.

Docker Hub answers 401 with a ``WWW-Authenticate: Bearer realm=...`` challenge: an anonymous
token (or one for ``GRADER_REGISTRY_USER``/``GRADER_REGISTRY_PASSWORD`` when set) is fetched
from the realm and the request retried. Loopback registries are spoken to over plain HTTP.
Which realms are followed, and where the credentials may go: ``grader.stages.registry_trust``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import requests

from grader.errors import RegistryUnreachable
from grader.stages.registry_trust import (
    configured_registry,
    credentials_for,
    may_follow,
    normalised,
)

log = logging.getLogger(__name__)
HUB = "registry-1.docker.io"
ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)
DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}")
"""A content digest, e.g. ``sha256:<64 hex>``."""
_SESSION = requests.Session()
_SESSION.trust_env = False


@dataclass(frozen=True)
class Reference:
    """An image reference, normalised as Docker does."""

    registry: str
    """Registry host[:port]; Docker Hub is ``registry-1.docker.io``."""
    repository: str
    """Repository path, ``library/`` added for Hub official images."""
    tag: str
    """Tag or ``sha256:`` digest."""

    @property
    def is_digest(self) -> bool:
        """True when ``tag`` is a content digest (``sha256:...``)."""
        return DIGEST.fullmatch(self.tag) is not None

    @property
    def pull_name(self) -> str:
        """The reference as ``docker pull`` takes it."""
        host = "" if self.registry == HUB else f"{self.registry}/"
        return f"{host}{self.repository}{'@' if self.is_digest else ':'}{self.tag}"

    @property
    def is_loopback(self) -> bool:
        """A registry on this machine (spoken to over HTTP, as Docker allows)."""
        if self.registry.startswith("["):
            host = self.registry[1:].split("]", 1)[0]
        else:
            host = self.registry.rsplit(":", 1)[0]
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def parse_reference(text: str) -> Reference:
    """``user/repo:tag``, ``repo``, ``host:5000/a/b@sha256:...`` -> Reference.

    Raises:
        ValueError: not an image reference.
    """
    ref = text.strip()
    if not re.fullmatch(r"[A-Za-z0-9._:/@\-\[\]]+", ref) or "//" in ref:
        raise ValueError(f"{text!r} is not an image reference")
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = digest or (last.split(":", 1)[1] if ":" in last else "latest")
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = HUB, name if "/" in name else f"library/{name}"
    if registry in ("docker.io", "index.docker.io"):
        registry = HUB
        repository = repository if "/" in repository else f"library/{repository}"
    return Reference(registry, repository.lower(), tag)


def _bearer_challenge(header: str) -> dict[str, str]:
    """The parameters of a ``Bearer`` challenge; empty for any other scheme (e.g. Basic)."""
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return dict(re.findall(r'(\w+)="([^"]*)"', params))


def _is_basic(headers: Mapping[str, str]) -> bool:
    """The registry asks for HTTP Basic authentication (a registry with an htpasswd file)."""
    return headers.get("WWW-Authenticate", "").strip().lower().startswith("basic")


def _token(registry: str, challenge: dict[str, str], timeout_s: float) -> str | None:
    """A token from the challenge's realm; None when the token service refuses us or is not
    one to follow (``grader.stages.registry_trust``)."""
    realm = challenge["realm"]
    if not may_follow(registry, realm):
        return None
    params = {k: v for k, v in challenge.items() if k in ("service", "scope")}
    auth = credentials_for(registry, realm)
    get = _SESSION.get  # no redirect: a realm cannot send the grader on to another host
    with get(realm, params=params, auth=auth, timeout=timeout_s, allow_redirects=False) as resp:
        if resp.status_code in (401, 403):  # wrong credentials or no access: a refusal
            return None
        resp.raise_for_status()
        body = resp.json()
    return str(body.get("token") or body.get("access_token") or "")


def failure(exc: Exception, timeout_s: float) -> str:
    """What went wrong with a registry, for a report: no URL, realm or address in it (a
    student chose the registry; the full error goes to the grader's log)."""
    log.info("registry request failed: %s", exc)
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, requests.exceptions.SSLError):
        return "its TLS certificate was not accepted"
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"its token service answered HTTP {exc.response.status_code}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "the connection failed"
    return "its answer is not a registry's"


def manifest_status(ref: Reference, timeout_s: float) -> int:
    """HTTP status of ``HEAD /v2/<repo>/manifests/<tag>`` (200: it exists; 404: it does not).

    Raises:
        RegistryUnreachable: no answer from the registry (or its token service), or an answer
            that is the registry's trouble: 429 (rate limit) or 5xx.
    """
    scheme = "http" if ref.is_loopback else "https"
    url = f"{scheme}://{ref.registry}/v2/{ref.repository}/manifests/{ref.tag}"
    headers = {"Accept": ACCEPT}
    try:
        resp = _SESSION.head(url, headers=headers, timeout=timeout_s)
        challenge = _bearer_challenge(resp.headers.get("WWW-Authenticate", ""))
        if resp.status_code == 401 and "realm" in challenge:
            token = _token(ref.registry, challenge, timeout_s)
            if token is None:
                return 401
            headers["Authorization"] = f"Bearer {token}"
            resp = _SESSION.head(url, headers=headers, timeout=timeout_s)
        elif resp.status_code == 401 and _is_basic(resp.headers) and (auth := _basic_auth(ref)):
            basic = (auth["username"], auth["password"])
            resp = _SESSION.head(url, headers=headers, auth=basic, timeout=timeout_s)
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise RegistryUnreachable(ref.registry, failure(exc, timeout_s)) from exc
    if resp.status_code == 429 or resp.status_code >= 500:  # the registry's trouble, not theirs
        raise RegistryUnreachable(ref.registry, f"HTTP {resp.status_code} {resp.reason}")
    return resp.status_code


def pull_auth(registry: str) -> dict[str, str] | None:
    """The credentials the engine's pull of an image from ``registry`` carries: the
    instructor's (``GRADER_REGISTRY_USER``/``_PASSWORD``) when ``registry`` is the one they
    are configured for (``grader.stages.registry_trust``), else None: a student's registry never
    gets them."""
    user, password = (
        os.environ.get("GRADER_REGISTRY_USER"),
        os.environ.get("GRADER_REGISTRY_PASSWORD"),
    )
    if not (user and password) or normalised(registry) != configured_registry():
        return None
    return {"username": user, "password": password}


def _basic_auth(ref: Reference) -> dict[str, str] | None:
    """HTTP Basic credentials for the configured registry (asked over https, or over http on
    this machine's loopback only, see ``manifest_status``); None for any other registry."""
    return pull_auth(ref.registry)

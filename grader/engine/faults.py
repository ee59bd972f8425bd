"""Whose fault a failed pull or build is (pure): a registry or the grading machine's network
that did not answer is ours to report as ``error``; an image or package that does not exist,
or that the student may not read, is the student's ``failed``."""

from __future__ import annotations

import re

REGISTRY_TROUBLE = re.compile(
    r"toomanyrequests|too many requests|rate limit"
    r"|received unexpected HTTP status: 5\d\d|\b50[0-4] (Internal Server Error|Bad Gateway"
    r"|Service Unavailable|Gateway Time-?out)|status code 5\d\d"
    r"|no such host|server misbehaving|Temporary failure in name resolution"
    r"|dial tcp[^\n]*(i/o timeout|connection refused|network is unreachable|no route to host)"
    r"|TLS handshake timeout|tls: |x509: |certificate signed by unknown authority"
    r"|net/http: request canceled|Client\.Timeout exceeded|context deadline exceeded"
    r"|connection reset by peer|unexpected EOF",
    re.IGNORECASE,
)
"""What an engine says when a registry, or the way to it, fails: rate limit (429), a 5xx,
DNS, TLS, a connection refused or timed out. Never the student's mistake."""
PULL_CONTEXT = re.compile(
    r"pull|manifest|registry|docker\.io|/v2/|head \"https?://|get \"https?://|failed to resolve"
    r"|failed to (copy|do request|authorize|fetch)",
    re.IGNORECASE,
)
"""A build error about fetching the base image, not about a RUN step."""
PACKAGE_NETWORK = re.compile(
    r"Temporary failure in name resolution|Failed to establish a new connection"
    r"|NewConnectionError|ConnectTimeoutError|Read timed out\.|ProxyError"
    r"|npm (ERR!|error) (code )?(EAI_AGAIN|ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT)"
    r"|npm (ERR!|error) network|getaddrinfo (EAI_AGAIN|ENOTFOUND)"
    r"|Temporary failure resolving '[^']*(debian|ubuntu|alpinelinux)",
)
"""What pip, npm and apt print when their package index cannot be reached (a host the
student's own RUN names is not in this list: a wrong address there is theirs)."""
REGISTRY_HOST = re.compile(r"https?://([^/\s\"]+)/v2/|lookup ([^\s:]+)(?: on |:)")
"""The registry host named in an engine's message."""


def registry_trouble(message: str) -> bool:
    """True when a pull or manifest request failed for the registry's or the network's reasons
    (rate limit, 5xx, DNS, TLS, connection), not because the image is absent or private."""
    return REGISTRY_TROUBLE.search(message) is not None


def base_image_trouble(error: str) -> bool:
    """True when a build failed while fetching its base image, for the registry's reasons."""
    return registry_trouble(error) and PULL_CONTEXT.search(error) is not None


def package_index_unreachable(build_log: str) -> bool:
    """True when a build step failed because pip, npm, apt or curl could not reach their
    package index (the grading machine has no network), not because of a wrong name."""
    return PACKAGE_NETWORK.search(build_log) is not None


def registry_named(message: str, default: str) -> str:
    """The registry host a message names (``registry-1.docker.io``), else ``default``."""
    found = REGISTRY_HOST.search(message)
    if found is None:
        return default
    return found.group(1) or found.group(2)

"""The only importer of ``requests``: ``get(url, timeout)`` -> ProbeResult, or ProbeFailed."""

from __future__ import annotations

import codecs
import time
from collections.abc import Mapping

import requests

from grader.errors import ProbeFailed
from grader.facts import ProbeResult

BODY_LIMIT = 4096
"""Characters of a response body kept as evidence."""

_SESSION = requests.Session()
_SESSION.trust_env = False  # never send a probe of 127.0.0.1 through a proxy from the environment


def get(url: str, timeout_s: float) -> ProbeResult:
    """GET ``url`` without following redirects.

    Raises:
        ProbeFailed: no HTTP response (``cause`` is refused, reset, timeout or error).
    """
    started = time.monotonic()
    try:
        with _SESSION.get(url, timeout=timeout_s, allow_redirects=False, stream=True) as resp:
            raw = resp.raw.read(BODY_LIMIT * 4, decode_content=True)
            body = raw.decode(_charset(resp.headers), errors="replace")[:BODY_LIMIT]
            return ProbeResult(
                url=url,
                status=resp.status_code,
                body=body,
                elapsed_s=time.monotonic() - started,
                headers=dict(resp.headers),
            )
    except requests.exceptions.Timeout as exc:
        raise ProbeFailed(url, "timeout", str(exc)) from exc
    except requests.exceptions.ConnectionError as exc:
        cause = "reset" if _is_reset(exc) else "refused"
        raise ProbeFailed(url, cause, str(exc)) from exc
    except (requests.exceptions.RequestException, OSError, LookupError) as exc:
        raise ProbeFailed(url, "error", str(exc)) from exc


def _charset(headers: Mapping[str, str]) -> str:
    """The declared charset, else UTF-8 (not requests' Latin-1 guess for text/*)."""
    _, _, params = headers.get("Content-Type", "").partition(";")
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                return codecs.lookup(value.strip("\"'")).name
            except LookupError:
                break
    return "utf-8"


def _is_reset(exc: BaseException) -> bool:
    text = repr(exc)
    return any(s in text for s in ("Connection reset", "RemoteDisconnected", "BadStatusLine"))

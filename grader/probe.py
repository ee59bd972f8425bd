"""The only importer of ``requests``: ``get(url, timeout)`` -> ProbeResult, or ProbeFailed."""

from __future__ import annotations

import time

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
            body = raw.decode(resp.encoding or "utf-8", errors="replace")[:BODY_LIMIT]
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


def _is_reset(exc: BaseException) -> bool:
    text = repr(exc)
    return any(s in text for s in ("Connection reset", "RemoteDisconnected", "BadStatusLine"))

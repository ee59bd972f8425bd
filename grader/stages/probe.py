"""The only importer of ``requests``: ``get(url, timeout)`` -> ProbeResult, or ProbeFailed;
and ``knocking``, bare TCP connections to the app while it is asked to stop.

Both reach a container with no network of its own (``--network none``) at the address its
namespace was given (``reach_inside``): their connections are made inside that namespace
(``grader.engine.netns``); every other address is connected to as usual.
"""

from __future__ import annotations

import codecs
import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from grader.engine import netns
from grader.errors import ProbeFailed
from grader.facts import ProbeResult
from grader.stages.deadline import within
from grader.stages.page_text import page_text

BODY_LIMIT = 4096
"""Characters of a response body kept as evidence."""
READ_LIMIT = 1_000_000
"""Bytes of a response body read: the page text is taken from all of them (a page with 8 kB
of CSS before its heading is read whole)."""
KNOCK_INTERVAL_S = 0.01
"""Pause between two connections while ``knocking``."""

_inside: dict[str, netns.Namespace] = {}
"""Address -> the container namespace it is reached in (``reach_inside``)."""


def reach_inside(address: str, namespace: netns.Namespace) -> None:
    """From now on, connect to ``address`` from inside ``namespace``."""
    _inside[address] = namespace


def forget(address: str) -> None:
    """Stop reaching ``address`` inside a namespace (its container is gone)."""
    _inside.pop(address, None)


def connect(host: str, port: int, timeout_s: float | None) -> socket.socket:
    """A TCP connection to ``host:port``: inside the namespace ``host`` is reached in, if any.

    Raises:
        OSError: refused, unreachable, timed out (``TimeoutError``).
    """
    namespace = _inside.get(host)
    if namespace is None:
        return socket.create_connection((host, port), timeout=timeout_s)
    sock = netns.socket_in(namespace)
    try:
        sock.settimeout(timeout_s)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class _Connection(HTTPConnection):
    """urllib3's connection, made by ``connect``."""

    def _new_conn(self) -> socket.socket:
        if self.host not in _inside:
            return super()._new_conn()
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        try:
            return connect(self.host, self.port, timeout)
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _Adapter(HTTPAdapter):
    """requests' adapter, its plain-HTTP pools making their connections with ``connect``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "http": _Pool,
        }


_SESSION = requests.Session()
_SESSION.trust_env = False  # never send a probe of 127.0.0.1 through a proxy from the environment
_SESSION.mount("http://", _Adapter())


def get(url: str, timeout_s: float) -> ProbeResult:
    """GET ``url`` without following redirects, the whole answer within ``timeout_s``
    (requests' timeout bounds each read only: a page that drips a byte every few seconds
    would hold a worker forever).

    Raises:
        ProbeFailed: no HTTP response (``cause`` is refused, reset, timeout or error).
    """
    try:
        return within(timeout_s, lambda: _get(url, timeout_s), "probe")
    except TimeoutError as exc:
        raise ProbeFailed(url, "timeout", f"no complete answer within {timeout_s:g} s") from exc


def _get(url: str, timeout_s: float) -> ProbeResult:
    started = time.monotonic()
    try:
        with _SESSION.get(url, timeout=timeout_s, allow_redirects=False, stream=True) as resp:
            raw = resp.raw.read(READ_LIMIT, decode_content=True)
            whole = raw.decode(_charset(resp.headers), errors="replace")
            headers = dict(resp.headers)
            return ProbeResult(
                url=url,
                status=resp.status_code,
                body=whole[:BODY_LIMIT],
                elapsed_s=time.monotonic() - started,
                headers=headers,
                text=page_text(headers, whole),
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


@contextlib.contextmanager
def knocking(host: str, port: int | None, interval_s: float = KNOCK_INTERVAL_S) -> Iterator[None]:
    """Open and close a TCP connection to ``host:port`` every ``interval_s`` until the block
    ends, as live traffic would while an app shuts down; nothing when ``port`` is None.

    An idle app that waits in ``select`` with a timeout (gunicorn's gthread worker: 1 s)
    notices SIGTERM only when that wait ends; a connection ends it at once. An app that
    ignores SIGTERM is not helped: it is still killed at the end of the grace period.
    """
    if port is None:
        yield
        return
    done = threading.Event()

    def knock() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):
                connect(host, port, interval_s * 5).close()
            done.wait(interval_s)

    thread = threading.Thread(target=knock, name="knocking", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()

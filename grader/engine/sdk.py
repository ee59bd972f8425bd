"""The Docker SDK, imported here and nowhere else, and its exceptions translated (habit 4).

``docker.errors.*`` and the ``requests``/``urllib3`` exceptions the SDK leaks become
``EngineError`` naming the action (``translated``); ``grader.engine`` turns some of them into
stage outcomes (``BuildTimedOut``, a refused Dockerfile) where the cause is the submission.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import traceback
import warnings
from collections.abc import Iterator
from typing import cast


@contextlib.contextmanager
def _unimportable(name: str) -> Iterator[None]:
    """While the block runs, ``import name`` fails with ImportError (as if not installed)."""
    saved = sys.modules.get(name)
    sys.modules[name] = None  # type: ignore[assignment]  # the documented "not importable"
    try:
        yield
    finally:
        if saved is None:
            del sys.modules[name]
        else:
            sys.modules[name] = saved


# docker-py imports paramiko, only for its ssh:// adapter, when it is imported itself: about
# 90 ms, a quarter of grade's start-up. The grader reaches ssh:// engines through the system's
# ssh (use_ssh_client), which never uses paramiko; the adapter is loaded when one is asked for
# (ssh_adapter). Habit: start-up is on every submission's critical path (bench/, issue 6).
with _unimportable("paramiko"):
    import docker as docker
    import docker.api.client
import docker.constants  # noqa: E402
import docker.errors  # noqa: E402
import docker.utils  # noqa: E402
import docker.utils.build  # noqa: E402
import requests.exceptions  # noqa: E402
import urllib3.exceptions  # noqa: E402

from grader.engine.headstart import Refused  # noqa: E402
from grader.errors import EngineError  # noqa: E402

NO_ENGINE = "no Docker engine: start Docker or run make grade as root"
MIN_API_VERSION = "1.24"
"""Only used to ask the engine its own API version, which is then used for everything."""
TRANSIENT = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,  # raised raw while iterating a streamed response
    OSError,
)
BUILD_BOUND_KEYS = ("cpuperiod", "cpuquota", "cgroupparent")
"""``POST /build`` takes these (API 1.24+) besides the four ``container_limits`` keys docker-py
knows; its ``build()`` passes ``container_limits`` to the query as they are, once it knows them
(``grader.engine.cgroups.BuildBounds.api_params``): its own build logic (.dockerignore, a Dockerfile
outside the context, proxies, credentials) is kept rather than copied."""
cast(list[str], docker.constants.CONTAINER_LIMITS_KEYS).extend(
    k for k in BUILD_BOUND_KEYS if k not in docker.constants.CONTAINER_LIMITS_KEYS
)
READ_TIMEOUTS = (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)


def release(exc: BaseException) -> None:
    """Close now what a failed connection left in its frames.

    docker-py's unix-socket ``connect()`` does not close its socket when connecting fails
    (the engine is down); the traceback's frame keeps it alive until some later garbage
    collection warns about it. Clearing the frames closes it here, silently.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if current.__traceback__ is not None:
                traceback.clear_frames(current.__traceback__)
            current = current.__cause__ or current.__context__
        gc.collect()


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn SDK and transport exceptions into ``EngineError`` naming the action."""
    try:
        yield
    except docker.errors.APIError as exc:
        raise EngineError(f"{action}: {exc.explanation or exc}") from exc
    except Refused as exc:  # the same, for a build sent ahead (grader.engine.headstart)
        raise EngineError(f"{action}: {exc.message or exc}") from exc
    except TRANSIENT as exc:
        release(exc)
        raise EngineError(f"{action}: {type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def tolerated(action: str) -> Iterator[None]:
    """For removals: an object already gone is fine, an engine failure is logged, not raised
    (the next run's sweep removes what is left)."""
    try:
        yield
    except docker.errors.NotFound:
        pass
    except TRANSIENT as exc:
        release(exc)
        logging.getLogger("grader.engine").warning("could not %s: %s", action, exc)


def ssh_adapter() -> None:
    """Give docker-py its ssh:// adapter, left out at import (see ``_unimportable``)."""
    client = vars(docker.api.client)
    if "SSHHTTPAdapter" not in client:
        from docker.transport.sshconn import SSHHTTPAdapter  # loads paramiko, now only

        client["SSHHTTPAdapter"] = SSHHTTPAdapter

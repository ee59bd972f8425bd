"""A submission's network isolation (issue 15, item 2; docs/security.md).

On an engine of this machine, with root, a submission's containers run with no network at
all (``--network none``): the grader reaches each one inside its own namespace
(``grader.engine.netns``), and there is nothing to make before it starts nor to remove after.
Without root (or with ``GRADER_ISOLATION=network``), they are attached to an ``--internal``
network of their own, probed at their address on it, and the host's firewall rejects every
connection they open (to the host, to other containers, anywhere); that network and its rules
are made before the first container starts and removed after the last is gone. Where part of
that cannot be had, what is missing is a reason code (``Isolation.missing``), said once in the
grader's log and noted in each report.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from grader.engine import Engine, firewall, netns
from grader.engine.firewall import Guard
from grader.engine.networks import IsolatedNetwork
from grader.errors import EngineError
from grader.i18n import t
from grader.labels import LABEL_OWNER, LABEL_RUN
from grader.stages import probe

log = logging.getLogger(__name__)

REMOTE = "remote"
"""The engine runs on another machine: default network, port published on its 127.0.0.1."""
ELSEWHERE = "elsewhere"
"""The engine's socket is local but its networks are not this machine's (a VM)."""
NO_FIREWALL = "no_firewall"
"""Internal network, but the host's firewall could not be written: the host is reachable."""

MODE_VARIABLE = "GRADER_ISOLATION"
"""``network``: an internal network and firewall rules even where namespaces could be used."""
NO_NETWORK = "none"
"""The engine's network mode of a container reached inside its namespace."""

_said: set[str] = set()
_said_lock = threading.Lock()


@dataclass(frozen=True)
class Isolation:
    """How one submission's containers are kept from the network."""

    network: IsolatedNetwork | None
    """Its internal network; None: the engine's default network, the port published."""
    guard: Guard | None
    """The host firewall rules naming its bridge; None when they could not be written."""
    missing: str | None = None
    """What is not enforced (``REMOTE``, ``ELSEWHERE``, ``NO_FIREWALL``), None: nothing."""
    detail: str = ""
    """Why, for the instructor (not root, iptables missing, the engine's URL...)."""
    inside: bool = False
    """No network at all: each container is reached inside its own namespace."""


def isolate(engine: Engine, labels: Mapping[str, str]) -> Isolation:
    """Make the network and the firewall rules of one submission.

    Raises:
        EngineError: the engine refused the network (e.g. no address pool left).
    """
    if not engine.is_local():
        return _said_once(Isolation(None, None, REMOTE, engine.base_url))
    if _namespaces_usable(engine):
        return Isolation(None, None, inside=True)
    network = engine.create_internal_network(labels)
    if not network.on_this_host:
        engine.remove_network(network.id)
        return _said_once(Isolation(None, None, ELSEWHERE, engine.base_url))
    why = firewall.unavailable()
    if why is None:
        run, owner = labels.get(LABEL_RUN, "?"), labels.get(LABEL_OWNER, "?")
        try:
            return Isolation(network, firewall.install(run, owner, network.bridge))
        except OSError as exc:
            why = f"iptables refused the rules: {exc}"
    return _said_once(Isolation(network, None, NO_FIREWALL, why))


def _namespaces_usable(engine: Engine) -> bool:
    """True when containers can be reached inside their namespaces: root, the engine's
    containers are this machine's processes (it names itself as this host does), and
    ``GRADER_ISOLATION`` does not ask for a network."""
    if os.environ.get(MODE_VARIABLE, "").strip().lower() == "network":
        return False
    if netns.usable() is not None:
        return False
    return str(engine.info().get("Name", "")) == socket.gethostname()


def reach(engine: Engine, container_id: str) -> str | None:
    """Give a started container's namespace an address and route the probes to it; the
    address, None when the container has no process any more (it stopped already).

    Raises:
        EngineError: its process is not this machine's, or the kernel refused the address.
    """
    pid = int((engine.inspect_container(container_id).get("State") or {}).get("Pid") or 0)
    if pid <= 0:
        return None
    try:
        namespace = netns.of(pid)
        address = netns.next_address()
        netns.add_address(namespace, address)
    except (FileNotFoundError, ConnectionRefusedError):
        return None  # it stopped between the two looks (netns: its process is gone)
    except OSError as exc:
        raise EngineError(f"cannot reach container {container_id[:12]}: {exc}") from exc
    probe.reach_inside(address, namespace)
    return address


def release(engine: Engine, isolation: Isolation) -> None:
    """Remove the network (its containers already removed) and its rules; never raises."""
    if isolation.network is not None:
        engine.remove_network(isolation.network.id)
    if isolation.guard is not None:
        firewall.remove(isolation.guard)


_releasing: set[threading.Thread] = set()
_releasing_lock = threading.Lock()


def release_soon(engine: Engine, isolation: Isolation, name: str = "") -> threading.Thread:
    """``release`` in a thread of its own, started now: the removal of the network (a tenth
    of a second of the engine's time, then an ``iptables-restore``) need not hold up the
    report. ``wait_released`` waits for it (the thread is not a daemon: an exiting
    interpreter waits for it too)."""

    def releasing() -> None:
        try:
            release(engine, isolation)
        except Exception as exc:  # a bug: said, and the run's sweep removes what is left
            log.warning("could not release the network of %s: %s", name, exc)
        finally:
            with _releasing_lock:
                _releasing.discard(thread)

    thread = threading.Thread(target=releasing, name=f"grader-release-{name}")
    with _releasing_lock:
        _releasing.add(thread)
    try:
        thread.start()
    except RuntimeError:  # no thread to be had: released here and now
        with _releasing_lock:
            _releasing.discard(thread)
        release(engine, isolation)
    return thread


def wait_released() -> None:
    """Wait for every release of this process still under way (``release_soon``)."""
    while True:
        with _releasing_lock:
            pending = next(iter(_releasing), None)
        if pending is None:
            return
        pending.join()
        with _releasing_lock:
            _releasing.discard(pending)


def note(isolation: Isolation, lang: str) -> str | None:
    """The report note saying what is not enforced, None when everything is."""
    if isolation.missing is None:
        return None
    return t(f"netiso.{isolation.missing}", lang, detail=isolation.detail)


def _said_once(isolation: Isolation) -> Isolation:
    """Log, once per process and reason, what is not enforced."""
    key = f"{isolation.missing}:{isolation.detail}"
    with _said_lock:
        first = key not in _said
        _said.add(key)
    if first:
        log.warning("%s", t(f"netiso.{isolation.missing}", "en", detail=isolation.detail))
    return isolation

"""Per-submission internal networks: made, reached from the host, removed (issue 15, item 2).

A network made with ``--internal`` gives its containers no default route and no published
ports; the grader reaches the container at its own address on that network, from the host,
as a browser reaches ``docker run -p`` (never through 127.0.0.1 inside: an app bound to
loopback stays unreachable). The bridge is named by the grader (``dlg-<hex>``) so that the host
firewall rules (``grader.engine.firewall``) can name it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.engine import subnets
from grader.engine.base import EngineBase
from grader.engine.sdk import docker, translated
from grader.errors import EngineError

SUBNET_TRIES = 8
"""Subnets of the pool the engine may refuse before it picks one itself."""
BRIDGE_PREFIX = "dlg-"
"""Every bridge the grader makes is named ``dlg-`` and 10 hex digits (15 characters at most
are allowed for an interface name)."""


@dataclass(frozen=True)
class IsolatedNetwork:
    """An internal network made for one submission."""

    id: str
    """The network's id."""
    name: str
    """Its name (``docker-lab-grader-<hex>``)."""
    bridge: str
    """The host interface of its bridge (``dlg-<hex>``)."""
    on_this_host: bool
    """The bridge is an interface of this machine: its containers' addresses are reachable
    from here and this machine's firewall sees their traffic."""


def new_names() -> tuple[str, str]:
    """A fresh (network name, bridge name) pair."""
    tag = os.urandom(5).hex()
    return f"docker-lab-grader-{tag}", f"{BRIDGE_PREFIX}{tag}"


class Networks(EngineBase):
    """``Engine``'s per-submission networks."""

    def create_internal_network(self, labels: Mapping[str, str]) -> IsolatedNetwork:
        """Make an ``--internal`` bridge network carrying ``labels``, with a bridge named by us.

        Raises:
            EngineError: the engine refused (e.g. no address pool left).
        """
        name, bridge = new_names()
        options = {
            "com.docker.network.bridge.name": bridge,
            # no traffic between containers of the network (there is only one)
            "com.docker.network.bridge.enable_icc": "false",
        }
        with subnets.held():  # chosen and taken while no other grading process chooses
            made = self._create(name, labels, options)
        on_host = self.is_local() and Path("/sys/class/net", bridge).exists()
        return IsolatedNetwork(str(made["Id"]), name, bridge, on_host)

    def _create(
        self, name: str, labels: Mapping[str, str], options: Mapping[str, str]
    ) -> Mapping[str, object]:
        """Make the network on the first free subnet of the grader's pool that the engine
        takes (it refuses one that overlaps a network of its own, unknown to this machine's
        routes); after ``SUBNET_TRIES`` refusals, on a subnet of the engine's choosing."""
        tried = 0
        for subnet in subnets.candidates(subnets.routed()):
            ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet))])
            try:
                return self._create_on(name, labels, options, ipam)
            except EngineError as exc:
                tried += 1
                if "overlap" not in str(exc).lower() or tried >= SUBNET_TRIES:
                    break
        return self._create_on(name, labels, options, None)

    def _create_on(
        self,
        name: str,
        labels: Mapping[str, str],
        options: Mapping[str, str],
        ipam: docker.types.IPAMConfig | None,
    ) -> Mapping[str, object]:
        with translated("create network"):
            made: Mapping[str, object] = self.api.create_network(
                name,
                driver="bridge",
                internal=True,
                labels=dict(labels),
                options=dict(options),
                ipam=ipam,
            )
        return made

    def container_address(self, container_id: str, network: str) -> str | None:
        """The container's IPv4 address on ``network`` (None when it has none)."""
        attrs = self.inspect_container(container_id)
        nets = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
        address = (nets.get(network) or {}).get("IPAddress")
        return str(address) if address else None

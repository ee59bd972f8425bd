"""Subnets for the per-submission networks, chosen host-wide so that two engines never share one.

Each Docker engine picks a new network's subnet from its own pools and skips the ones this
machine already routes; two engines of the same machine (a department's second dockerd, the
bench's, the tests') that make a network at the same moment can both see a subnet free and both
take it. Measured here: two engines each making an internal network at once got the same subnet
7 times in 20. Two bridges with one subnet: the host reaches only one of the two containers at
their common address, and the other submission's ``GET /`` goes to the wrong container or
nowhere. So the grader gives every network it makes a subnet of its own: a ``/28`` of a pool
(``GRADER_SUBNET_POOL``, default ``10.214.0.0/16``, outside Docker's default pools so that an
engine's own picks never race ours), not routed on this machine, chosen and taken under a lock
file that every grading process of the machine shares.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import random
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

POOL_VARIABLE = "GRADER_SUBNET_POOL"
"""The environment variable that names the pool (an IPv4 network of /28 or wider)."""
DEFAULT_POOL = "10.214.0.0/16"
"""4096 networks of 14 addresses; outside Docker's default pools (172.17-31/16, 192.168/16)."""
PREFIX = 28
"""A submission's network holds its container (a second one at most) and the gateway."""
LOCK = Path("/run/lock/docker-lab-grader-subnets.lock")
"""Held while a subnet is chosen and its network made, by every grading process here."""
ROUTES = Path("/proc/net/route")


def pool() -> IPv4Network:
    """The pool named by ``GRADER_SUBNET_POOL``, or the default one.

    Raises:
        ValueError: the variable names no IPv4 network, or one narrower than /28.
    """
    network = ipaddress.ip_network(os.environ.get(POOL_VARIABLE) or DEFAULT_POOL, strict=False)
    if not isinstance(network, IPv4Network) or network.prefixlen > PREFIX:
        raise ValueError(f"{POOL_VARIABLE} must be an IPv4 network of /{PREFIX} or wider")
    return network


def routed(table: Path = ROUTES) -> list[IPv4Network]:
    """The networks this machine routes, from ``/proc/net/route`` (the default route left out:
    it covers everything). Empty when the table cannot be read."""
    try:
        lines = table.read_text(encoding="ascii").splitlines()[1:]
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            address = _little_endian(fields[1])
            mask = _little_endian(fields[7])
            network = IPv4Network(f"{address}/{mask}", strict=False)
        except ValueError:
            continue
        if network.prefixlen:
            found.append(network)
    return found


def _little_endian(word: str) -> str:
    """``/proc/net/route``'s hexadecimal address (host byte order, little-endian) as a dotted
    quad."""
    return str(ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(word), "little")))


def candidates(
    taken: list[IPv4Network], within: IPv4Network | None = None
) -> Iterator[IPv4Network]:
    """The pool's /28 subnets that overlap no network in ``taken``, from a random one on
    (wrapping round), so that engines which do not share our lock rarely try the same first."""
    subnets = list((within or pool()).subnets(new_prefix=PREFIX))
    start = random.randrange(len(subnets))
    for subnet in subnets[start:] + subnets[:start]:
        if not any(subnet.overlaps(other) for other in taken):
            yield subnet


@contextlib.contextmanager
def held(lock: Path = LOCK) -> Iterator[None]:
    """The machine-wide lock on choosing subnets; without a lock file (not root, no /run/lock),
    the choice is made unlocked (the engine still refuses a subnet it has given already)."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock

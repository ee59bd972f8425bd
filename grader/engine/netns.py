"""Sockets made inside a container's own network namespace (issue 15 item 2, issue 17).

A graded container runs with ``--network none``: its namespace holds a loopback interface
and nothing else, so it reaches nothing, not the host, not another submission, not the
internet, with no firewall rule to write. The grader still reaches it as a browser would
reach ``docker run -p``: it gives the namespace's loopback interface one more address (a
``/32`` of 198.18.0.0/15, the range kept for benchmarks), and connects to that address from
a socket made inside the namespace. An app bound to 127.0.0.1 only refuses that connection,
as it refuses one through a published port.

Entering a namespace (``setns``) changes the calling thread only, for the microseconds a
``socket()`` takes; the socket then belongs to the container's namespace, wherever it is
used. It needs root on the machine the engine runs on (``usable`` says why not).
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CLONE_NEWNET = 0x40000000
"""``setns``'s flag for a network namespace."""
POOL = ipaddress.IPv4Network("198.18.0.0/15")
"""Where the addresses given to containers' loopback come from (RFC 2544, never routed)."""
RTM_NEWADDR, IFA_ADDRESS, IFA_LOCAL = 20, 1, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
LOOPBACK_INDEX = 1
"""A new network namespace's loopback is always its interface 1."""

_counter = itertools.count(1)
_counter_lock = threading.Lock()
_libc: Any = None


@dataclass(frozen=True)
class Namespace:
    """The network namespace of a container's process, as the host sees it."""

    pid: int
    """A process of the container (its PID 1), in the host's numbering."""
    inode: int
    """The namespace's inode: the same ``pid`` in another namespace (reused) is not it."""


def usable() -> str | None:
    """None when this process can enter other processes' network namespaces; else why not."""
    if os.geteuid() != 0:
        return "not root"
    if not os.path.exists("/proc/thread-self/ns/net"):
        return "no /proc/thread-self/ns/net"
    try:
        _setns_function()
    except (OSError, AttributeError) as exc:
        return f"no setns: {exc}"
    return None


def of(pid: int) -> Namespace:
    """The network namespace of process ``pid``.

    Raises:
        OSError: no such process (or not ours to see).
    """
    return Namespace(pid, os.stat(f"/proc/{pid}/ns/net").st_ino)


def next_address() -> str:
    """An address of ``POOL`` this process has not given out lately."""
    with _counter_lock:
        number = next(_counter) % (POOL.num_addresses - 2) + 1
    return str(POOL.network_address + number)


def socket_in(namespace: Namespace, family: int = socket.AF_INET) -> socket.socket:
    """A TCP socket (``family``) of ``namespace``, unconnected.

    Raises:
        ConnectionRefusedError: the namespace is gone (the container stopped), as an app
            that stopped listening would answer.
        OSError: the kernel refused to enter it.
    """
    return _made_in(namespace, lambda: socket.socket(family, socket.SOCK_STREAM))


def add_address(namespace: Namespace, address: str) -> None:
    """Give ``namespace``'s loopback interface ``address``/32 (netlink ``RTM_NEWADDR``).

    Raises:
        OSError: the namespace is gone, or the kernel refused the address.
    """
    packed = socket.inet_aton(address)
    body = struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, LOOPBACK_INDEX)
    for kind in (IFA_LOCAL, IFA_ADDRESS):
        body += struct.pack("=HH", 4 + len(packed), kind) + packed
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
    message = struct.pack("=IHHII", 16 + len(body), RTM_NEWADDR, flags, 1, 0) + body
    netlink = _made_in(
        namespace, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    )
    with netlink:
        netlink.settimeout(2.0)
        netlink.sendto(message, (0, 0))
        answer = netlink.recv(4096)
    kind = struct.unpack_from("=H", answer, 4)[0]
    error = -struct.unpack_from("=i", answer, 16)[0] if kind == NLMSG_ERROR else 0
    if error:
        raise OSError(error, f"adding {address} to the loopback: {os.strerror(error)}")


def _made_in(namespace: Namespace, make: Callable[[], socket.socket]) -> socket.socket:
    """``make()`` called with this thread inside ``namespace``, then back in its own."""
    setns = _setns_function()
    try:
        target = os.open(f"/proc/{namespace.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise ConnectionRefusedError(f"the container's process {namespace.pid} is gone") from exc
    try:
        if os.fstat(target).st_ino != namespace.inode:
            raise ConnectionRefusedError(f"process {namespace.pid} is another container's now")
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _enter(setns, target)
            try:
                made = make()
            finally:
                _enter(setns, own)  # back home before anything else runs in this thread
            return made
        finally:
            os.close(own)
    finally:
        os.close(target)


def _enter(setns: Any, fd: int) -> None:
    if setns(fd, CLONE_NEWNET) != 0:
        import ctypes

        number = ctypes.get_errno()
        raise OSError(number, f"setns: {os.strerror(number)}")


def _setns_function() -> Any:
    """libc's ``setns`` (``os.setns`` is Python 3.12's), loaded once."""
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc.setns

"""Sockets made inside another process's network namespace (``grader.engine.netns``), on this
machine's kernel: a namespace of the test's own (``unshare --net``), no Docker involved.

Inside it, two servers: one on every address (0.0.0.0), one on loopback only. From the test
process, after giving the namespace's loopback an address of the grader's pool, the first
answers at that address and the second refuses, as through ``docker run -p``; the test's own
namespace is untouched; and once the namespace's process is gone, a socket is refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine import netns
from grader.stages import probe

pytestmark = pytest.mark.skipif(netns.usable() is not None, reason="needs root")

SERVERS = """
import socket, sys, threading
def serve(host, port):
    server = socket.create_server((host, port))
    while True:
        conn, _ = server.accept()
        conn.recv(4096)  # the request
        conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 7\\r\\n\\r\\n" + host.encode())
        conn.close()
threading.Thread(target=serve, args=("0.0.0.0", 8000), daemon=True).start()
threading.Thread(target=serve, args=("127.0.0.1", 8001), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def namespace() -> Iterator[tuple[subprocess.Popen[str], netns.Namespace]]:
    """A process in a new network namespace (loopback up), serving on 8000 and 8001."""
    script = f'ip link set lo up && exec {sys.executable} -c "$0"'
    proc = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", script, SERVERS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    with proc:  # its pipes closed, and waited for, at the end
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            yield proc, netns.of(proc.pid)
        finally:
            proc.kill()


def _answer(sock: socket.socket) -> str:
    """The body the server answered on ``sock``."""
    with sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return sock.makefile("rb").read().decode().rsplit("\r\n", 1)[-1]


def test_an_address_inside_reaches_what_listens_everywhere_and_not_loopback_only(
    namespace: tuple[subprocess.Popen[str], netns.Namespace],
) -> None:
    _, inside = namespace
    own = os.stat("/proc/thread-self/ns/net").st_ino
    address = netns.next_address()
    netns.add_address(inside, address)
    assert address in Path(f"/proc/{inside.pid}/net/fib_trie").read_text()
    assert address not in Path("/proc/self/net/fib_trie").read_text()  # ours is untouched

    probe.reach_inside(address, inside)
    try:
        assert _answer(probe.connect(address, 8000, 2.0)) == "0.0.0.0"
        with pytest.raises(ConnectionRefusedError):
            probe.connect(address, 8001, 2.0)  # bound to 127.0.0.1 inside
        # the HTTP probe goes the same way (the server names the address it listens on)
        answer = probe.get(f"http://{address}:8000/", 2.0)
        assert (answer.status, answer.body) == (200, "0.0.0.0")
    finally:
        probe.forget(address)
    assert os.stat("/proc/thread-self/ns/net").st_ino == own  # back in our own namespace
    with pytest.raises(OSError, match="File exists"):  # the kernel's refusal is said
        netns.add_address(inside, address)


def test_a_namespace_whose_process_is_gone_refuses(
    namespace: tuple[subprocess.Popen[str], netns.Namespace],
) -> None:
    proc, inside = namespace
    netns.socket_in(inside).close()
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{inside.pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(ConnectionRefusedError):
        netns.socket_in(inside)
    reused = netns.Namespace(os.getpid(), inside.inode)  # a live pid, another namespace
    with pytest.raises(ConnectionRefusedError, match="another"):
        netns.socket_in(reused)

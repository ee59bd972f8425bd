"""grader/runtime.py + facts.Socket: listening sockets from /proc/net/tcp{,6} text."""

from __future__ import annotations

from grader.facts import Socket
from grader.runtime import parse_proc_net_tcp

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123457 1 0000000000000000 100 0 0 10 0
   2: 0200A8C0:1F40 0100A8C0:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 123458 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:1F40 0100007F:C350 06 00000000:00000000 03:00000F1A 00000000     0        0 0 3 0000000000000000
"""  # noqa: E501

TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 223456 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1388 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 223457 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000001000000:1F40 00000000000000000000000001000000:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 223458 1 0000000000000000 20 4 30 10 -1
"""  # noqa: E501


def test_ipv4_listening_sockets() -> None:
    assert parse_proc_net_tcp(TCP) == (Socket("0.0.0.0", 8000), Socket("127.0.0.1", 8001))


def test_ipv4_established_and_time_wait_are_ignored() -> None:
    ports = [s.port for s in parse_proc_net_tcp(TCP)]
    assert ports.count(8000) == 1  # the 01 (ESTABLISHED) and 06 rows on 8000 are not listed


def test_ipv6_listening_sockets() -> None:
    assert parse_proc_net_tcp(TCP6) == (Socket("::1", 5000), Socket("::", 8000))


def test_header_only_and_empty_text() -> None:
    assert parse_proc_net_tcp(TCP.splitlines()[0]) == ()
    assert parse_proc_net_tcp("") == ()


def test_malformed_rows_are_skipped() -> None:
    text = TCP.splitlines()[0] + "\n   0: ZZZZ:1F40 00000000:0000 0A\n   1: short\n"
    assert parse_proc_net_tcp(text) == ()


def test_duplicates_are_merged_and_sorted_by_port() -> None:
    row = TCP.splitlines()[1]
    text = "\n".join([TCP.splitlines()[0], TCP.splitlines()[2], row, row])
    assert parse_proc_net_tcp(text) == (Socket("0.0.0.0", 8000), Socket("127.0.0.1", 8001))


def test_socket_is_loopback() -> None:
    assert Socket("127.0.0.1", 8000).is_loopback is True
    assert Socket("127.0.1.1", 8000).is_loopback is True
    assert Socket("::1", 8000).is_loopback is True
    assert Socket("0.0.0.0", 8000).is_loopback is False
    assert Socket("::", 8000).is_loopback is False
    assert Socket("172.17.0.2", 8000).is_loopback is False


def test_socket_str() -> None:
    assert str(Socket("0.0.0.0", 8000)) == "0.0.0.0:8000"
    assert str(Socket("127.0.0.1", 5000)) == "127.0.0.1:5000"
    assert str(Socket("::", 8000)) == "[::]:8000"
    assert str(Socket("::1", 8000)) == "[::1]:8000"

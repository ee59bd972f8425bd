"""grader/stages/runtime.py + facts.Socket: listening sockets from /proc/net/tcp{,6} text; PID 1's
command line and uid from its /proc folder, or from the engine's top."""

from __future__ import annotations

from pathlib import Path

from grader.facts import Socket
from grader.stages.runtime import MainProcess, command_line, parse_proc_net_tcp, process_uid

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


class RemoteEngine:
    """What ``command_line`` and ``process_uid`` ask an engine when /proc cannot be read."""

    def top_commands(self, container_id: str) -> list[tuple[int, str]]:
        return [(7, "/bin/sh -c node index.js"), (8, "node index.js")]

    def top_uids(self, container_id: str) -> list[tuple[int, int]]:
        return [(7, 0), (8, 1000)]


def fake_proc(tmp_path: Path) -> Path:
    (tmp_path / "cmdline").write_bytes(b"/usr/bin/python3\0/usr/local/bin/gunicorn\0app:app\0")
    (tmp_path / "status").write_text("Name:\tgunicorn\nUid:\t0\t1000\t1000\t1000\nGid:\t0\n")
    return tmp_path


def test_pid1_facts_are_read_from_its_proc_folder_when_it_is_ours(tmp_path: Path) -> None:
    main = MainProcess(7, fake_proc(tmp_path))
    engine = RemoteEngine()
    assert command_line(engine, "c", main) == "/usr/bin/python3 /usr/local/bin/gunicorn app:app"  # type: ignore[arg-type]
    assert process_uid(engine, "c", main) == 1000  # type: ignore[arg-type]  # effective uid


def test_pid1_facts_come_from_top_without_a_proc_folder() -> None:
    main = MainProcess(7, None)
    engine = RemoteEngine()
    assert command_line(engine, "c", main) == "/bin/sh -c node index.js"  # type: ignore[arg-type]
    assert process_uid(engine, "c", main) == 0  # type: ignore[arg-type]


def test_a_proc_folder_that_vanished_falls_back_to_top(tmp_path: Path) -> None:
    main = MainProcess(8, tmp_path / "gone")
    engine = RemoteEngine()
    assert command_line(engine, "c", main) == "node index.js"  # type: ignore[arg-type]
    assert process_uid(engine, "c", main) == 1000  # type: ignore[arg-type]

"""The grader's subnet choice: this machine's routes read, the pool's free /28s, the lock."""

from __future__ import annotations

import ipaddress
import threading
import time
from pathlib import Path

import pytest

from grader.engine import subnets

ROUTE_TABLE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
dlg-a\t0000D60A\t00000000\t0001\t0\t0\t0\tF0FFFFFF\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


def test_routes_are_read_in_host_byte_order_without_the_default_route(tmp_path: Path) -> None:
    table = tmp_path / "route"
    table.write_text(ROUTE_TABLE)
    assert subnets.routed(table) == [
        ipaddress.IPv4Network("172.17.0.0/16"),
        ipaddress.IPv4Network("10.214.0.0/28"),
        ipaddress.IPv4Network("192.0.2.0/24"),
    ]


def test_no_route_table_means_no_route_known(tmp_path: Path) -> None:
    assert subnets.routed(tmp_path / "missing") == []


def test_candidates_skip_every_routed_subnet_and_cover_the_rest() -> None:
    within = ipaddress.IPv4Network("10.214.0.0/26")  # four /28s
    taken = [ipaddress.IPv4Network("10.214.0.0/28"), ipaddress.IPv4Network("10.214.0.32/27")]
    for _ in range(10):  # the start is random; the set never changes
        assert sorted(subnets.candidates(taken, within)) == [
            ipaddress.IPv4Network("10.214.0.16/28")
        ]


def test_a_wider_route_over_the_whole_pool_leaves_nothing() -> None:
    within = ipaddress.IPv4Network("10.214.0.0/24")
    assert list(subnets.candidates([ipaddress.IPv4Network("10.0.0.0/8")], within)) == []


def test_the_pool_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert subnets.pool() == ipaddress.IPv4Network(subnets.DEFAULT_POOL)
    monkeypatch.setenv(subnets.POOL_VARIABLE, "192.0.2.0/24")
    assert subnets.pool() == ipaddress.IPv4Network("192.0.2.0/24")
    monkeypatch.setenv(subnets.POOL_VARIABLE, "192.0.2.0/29")
    with pytest.raises(ValueError, match="/28"):
        subnets.pool()
    monkeypatch.setenv(subnets.POOL_VARIABLE, "fd00::/64")
    with pytest.raises(ValueError, match="IPv4"):
        subnets.pool()


def test_the_lock_lets_one_holder_in_at_a_time(tmp_path: Path) -> None:
    lock = tmp_path / "subnets.lock"
    inside: list[int] = []
    most = 0

    def hold() -> None:
        nonlocal most
        with subnets.held(lock):
            inside.append(1)
            most = max(most, len(inside))
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1

"""Two engines of one machine never give two submissions' networks the same subnet.

Without a host-wide choice, the main engine and a private one each making an internal network
at the same moment got the same subnet 7 times in 20 here; the submission whose bridge lost
the route was probed at an address that led elsewhere (http.root_status failed in a class split
over two engines).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator

import pytest
from private_engine import PrivateEngine

from grader.engine import Engine
from grader.engine.networks import IsolatedNetwork
from grader.engine.subnets import DEFAULT_POOL, routed
from grader.labels import LABEL

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROUNDS = 12


@pytest.fixture
def second_engine() -> Iterator[PrivateEngine]:
    engine = PrivateEngine("subnets", "10.213.12.1/24")
    try:
        engine.start()
        yield engine
    finally:
        engine.destroy()


def _subnet(engine: Engine, network: IsolatedNetwork) -> ipaddress.IPv4Network:
    config = engine.api.inspect_network(network.id)["IPAM"]["Config"]
    return ipaddress.IPv4Network(config[0]["Subnet"])


def _made_at_once(engines: list[Engine]) -> list[IsolatedNetwork | None]:
    """Each engine makes an internal network, both released at the same instant."""
    start = threading.Barrier(len(engines))
    got: list[IsolatedNetwork | None] = [None] * len(engines)

    def make(i: int) -> None:
        start.wait()
        got[i] = engines[i].create_internal_network({LABEL: "subnets-test"})

    threads = [threading.Thread(target=make, args=(i,)) for i in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got


def test_networks_made_at_once_on_two_engines_get_distinct_routed_subnets(
    second_engine: PrivateEngine,
) -> None:
    engines = [Engine(), Engine(second_engine.url)]
    made: list[tuple[Engine, IsolatedNetwork]] = []
    try:
        for _ in range(ROUNDS):
            got = _made_at_once(engines)
            pair = [n for n in got if n is not None]
            assert len(pair) == 2
            made.extend(zip(engines, pair, strict=True))
            first, second = (_subnet(e, n) for e, n in zip(engines, pair, strict=True))
            assert not first.overlaps(second), (first, second)
            pool = ipaddress.IPv4Network(DEFAULT_POOL)
            assert first.subnet_of(pool) and second.subnet_of(pool)
            assert first.prefixlen == second.prefixlen == 28
            assert first in routed() and second in routed()  # each bridge has its own route
        subnets = [_subnet(e, n) for e, n in made]
        assert len(set(subnets)) == len(subnets)  # none reused while the others exist
    finally:
        for engine, network in made:
            engine.remove_network(network.id)
        for engine in engines:
            engine.close()

"""The firewall rules a submission's bridge gets, their listing, and the isolation notes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.engine import firewall
from grader.engine.firewall import Guard
from grader.engine.networks import IsolatedNetwork
from grader.stages import isolation as isolation_stage
from grader.stages.isolation import ELSEWHERE, NO_FIREWALL, REMOTE, Isolation, note
from grader.stages.runtime import app_sockets, parse_proc_net_tcp

LISTING = """-P INPUT ACCEPT
-N DOCKER-USER
-A INPUT -i dlg-0a1b2c3d4e -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment "docker-lab-grader run=5f0e1d2c3b4a owner=vm:4242 bridge=dlg-0a1b2c3d4e" -j REJECT --reject-with icmp-port-unreachable
-A DOCKER-USER -o dlg-0a1b2c3d4e -m comment --comment "docker-lab-grader run=5f0e1d2c3b4a owner=vm:4242 bridge=dlg-0a1b2c3d4e" -j DROP
-A DOCKER-USER -i br-123 -m comment --comment "someone else's rule" -j DROP
-A DOCKER-USER -j RETURN
"""  # noqa: E501


def test_a_bridge_gets_three_rules_carrying_the_run_and_owner() -> None:
    comment = firewall.comment_for("5f0e1d2c3b4a", "vm:4242", "dlg-0a1b2c3d4e")
    guard = Guard("dlg-0a1b2c3d4e", comment, "DOCKER-USER")
    specs = firewall.rule_specs(guard)
    assert [s.split()[0] for s in specs] == ["INPUT", "DOCKER-USER", "DOCKER-USER"]
    assert all(f'--comment "{comment}"' in s and "dlg-0a1b2c3d4e" in s for s in specs)
    assert "! --ctstate ESTABLISHED,RELATED" in specs[0] and specs[0].endswith("-j REJECT")
    assert "-i dlg-0a1b2c3d4e" in specs[1] and "-o dlg-0a1b2c3d4e" in specs[2]
    script = firewall.restore_script(specs, "-D")
    assert script.startswith("*filter\n-D INPUT ") and script.endswith("COMMIT\n")


def test_only_the_graders_rules_are_listed_with_their_run_and_owner() -> None:
    found = firewall.parse_listing(LISTING)
    assert [(run, owner, bridge) for _, run, owner, bridge in found] == [
        ("5f0e1d2c3b4a", "vm:4242", "dlg-0a1b2c3d4e"),
        ("5f0e1d2c3b4a", "vm:4242", "dlg-0a1b2c3d4e"),
    ]
    assert found[0][0].startswith("INPUT -i dlg-0a1b2c3d4e ")  # deletable as listed


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("missing", [REMOTE, ELSEWHERE, NO_FIREWALL])
def test_what_is_not_enforced_is_noted_with_why(lang: str, missing: str) -> None:
    said = note(Isolation(None, None, missing, "ssh://grader@lab"), lang)
    assert said is not None and "ssh://grader@lab" in said and not said.startswith("netiso.")


def test_nothing_is_noted_when_everything_is_enforced() -> None:
    assert note(Isolation(None, None), "fr") is None


def test_a_grader_that_cannot_write_the_firewall_says_why(repo_root: Path) -> None:
    """Run as nobody (no root, no sudo without a password): the reason, never a crash."""
    code = "from grader.engine import firewall; print(firewall.unavailable())"
    if os.geteuid() != 0:  # already not root: ask this process
        said = str(firewall.unavailable())
    else:
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        done = subprocess.run(
            [*nobody, sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=repo_root,
            env={**os.environ, "PYTHONPATH": str(repo_root)},
            timeout=60,
            check=True,
        )
        said = done.stdout.strip()
    assert said in (
        "the grader is neither root nor allowed sudo without a password",
        "iptables is not installed",
    )


PROC_NET_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid
   0: 0B00007F:AACD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   1: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000
"""  # Docker's DNS on 127.0.0.11:43725, the app on 0.0.0.0:8000


def test_dockers_embedded_dns_is_not_one_of_the_apps_sockets() -> None:
    assert [(s.address, s.port) for s in parse_proc_net_tcp(PROC_NET_TCP)] == [
        ("0.0.0.0", 8000),
        ("127.0.0.11", 43725),
    ]
    assert [(s.address, s.port) for s in app_sockets([PROC_NET_TCP])] == [("0.0.0.0", 8000)]


class SlowRemovals:
    """An engine whose network removals take a while, and say in which thread they ran."""

    def __init__(self) -> None:
        self.removed: list[tuple[str, str]] = []

    def remove_network(self, network_id: str) -> None:
        time.sleep(0.3)
        self.removed.append((network_id, threading.current_thread().name))


def test_a_release_runs_in_the_background_and_is_waited_for() -> None:
    engine = SlowRemovals()
    made = [Isolation(IsolatedNetwork(f"net-{i}", f"n{i}", f"dlg-{i}", True), None) for i in (1, 2)]
    began = time.monotonic()
    for i, isolation in enumerate(made):
        isolation_stage.release_soon(engine, isolation, f"s{i}")  # type: ignore[arg-type]
    assert time.monotonic() - began < 0.2 and engine.removed == []
    isolation_stage.wait_released()
    assert sorted(engine.removed) == [
        ("net-1", "grader-release-s0"),
        ("net-2", "grader-release-s1"),
    ]
    isolation_stage.wait_released()  # nothing left: returns at once

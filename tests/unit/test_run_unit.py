"""grader/stages/run.py: the sandbox options and the 'unreachable' verdict on listening sockets."""

from __future__ import annotations

from grader.facts import Socket
from grader.stages.run import Sandbox, _port, _unreachable, sandbox_options


def test_default_sandbox_options() -> None:
    assert sandbox_options(Sandbox()) == {
        "mem_limit": "512m",
        "memswap_limit": "512m",
        "pids_limit": 256,
        "nano_cpus": 1_000_000_000,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "privileged": False,
        "binds": [],
        "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "2"}},
    }


def test_custom_sandbox_options() -> None:
    options = sandbox_options(Sandbox(memory="256m", pids=64, cpus=0.5))
    assert options["mem_limit"] == "256m"
    assert options["memswap_limit"] == "256m"
    assert options["pids_limit"] == 64
    assert options["nano_cpus"] == 500_000_000
    assert isinstance(options["nano_cpus"], int)
    assert options["cap_drop"] == ["ALL"]
    assert options["privileged"] is False


def test_sandbox_options_are_fresh_lists() -> None:
    first = sandbox_options(Sandbox())
    first["cap_drop"].append("x")
    assert sandbox_options(Sandbox())["cap_drop"] == ["ALL"]


def test_only_loopback_on_the_port_is_unreachable() -> None:
    assert _unreachable((Socket("127.0.0.1", 8000),), 8000) is True
    assert _unreachable((Socket("::1", 8000),), 8000) is True


def test_any_address_on_the_port_is_reachable() -> None:
    assert _unreachable((Socket("0.0.0.0", 8000),), 8000) is False
    assert _unreachable((Socket("::", 8000),), 8000) is False
    assert _unreachable((Socket("127.0.0.1", 8000), Socket("0.0.0.0", 8000)), 8000) is False


def test_other_port_only_is_unreachable() -> None:
    assert _unreachable((Socket("0.0.0.0", 5000),), 8000) is True


def test_nothing_known_is_not_a_verdict() -> None:
    assert _unreachable((), 8000) is False
    assert _unreachable(None, 8000) is False


def test_port_of_url() -> None:
    assert _port("http://127.0.0.1:49153/") == 49153
    assert _port("http://127.0.0.1:49153/hello") == 49153
    assert _port("http://localhost/") is None

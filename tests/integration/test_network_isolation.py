"""A graded app reaches nothing (issue 15, item 2), on the real engine and the host's firewall.

Both isolations are graded: the default one as root (``--network none``, the container reached
inside its namespace), and the internal network with firewall rules (``GRADER_ISOLATION=
network``, what a grader without root gets). Traffic stays on this machine: a listener of the
test on the host (0.0.0.0: every address of the host, the bridge gateways included) and the
graded containers themselves. That nothing reaches the internet is asserted from the host side
(no interface but loopback, or no default route, the network's ``Internal`` flag and the
firewall rules), never by trying.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from grader.engine import Engine, netns
from grader.labels import LABEL, LABEL_OWNER, LABEL_RUN
from grader.stages import isolation
from tests.integration.conftest import BIN, owned_by, owner_rules, push_submission

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SIDE_PORT = 9000
"""Every test app also listens here (with 8000, after its delay), and logs who connects."""
REACHED = ("connected", "ConnectionRefusedError")
"""Answers of a connection attempt that reached the other end (refused: nothing listened)."""
MODES = ["none", "network"]
"""``GRADER_ISOLATION`` of a test's grading: the default (root: no network), an internal one."""

APP = """
import ipaddress, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer

HOST_PORT = {host_port}
DOCKER0 = "{docker0}"
DELAY_S = {delay}

def routes():
    with open("/proc/net/route") as f:
        return [r.split() for r in f.read().splitlines()[1:] if r.strip()]

def address(hex_le):
    return ipaddress.IPv4Address(bytes.fromhex(hex_le)[::-1])

default = [r for r in routes() if r[1] == "00000000"]
print("default route:", "yes" if default else "no", flush=True)
eth0 = [r for r in routes() if r[0] == "eth0"]
if default:
    gateway = address(default[0][2])
elif eth0:  # the first address of eth0's network: the bridge's own, on the host
    gateway = address(eth0[0][1]) + 1
else:  # no network at all: the host's docker0 again
    gateway = DOCKER0
for target in (str(gateway), DOCKER0):
    try:
        socket.create_connection((target, HOST_PORT), timeout=3).close()
        print(f"egress {{target}}: connected", flush=True)
    except OSError as exc:
        print(f"egress {{target}}: {{type(exc).__name__}}", flush=True)

time.sleep(DELAY_S)  # an app listening elsewhere first would be judged at once
side = socket.create_server(("0.0.0.0", {side_port}))
def accept():
    while True:
        conn, peer = side.accept()
        print(f"crosstalk: connection from {{peer[0]}}", flush=True)
        conn.close()
threading.Thread(target=accept, daemon=True).start()

class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"{body}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("0.0.0.0", 8000), Hello).serve_forever()
"""

DOCKERFILE = """FROM python:3.11-slim
WORKDIR /app
COPY app.py .
USER 1000
CMD ["python", "-u", "app.py"]
"""


class HostListener:
    """A TCP listener on every address of the host; counts who connects."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("0.0.0.0", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.peers: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._done.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            self.peers.append(peer[0])
            conn.close()

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[HostListener]:
    found = HostListener()
    try:
        yield found
    finally:
        found.close()


def docker0_address(engine: Engine) -> str:
    configs = engine.api.inspect_network("bridge")["IPAM"]["Config"]
    return str(next(c["Gateway"] for c in configs if "Gateway" in c))


def write_app(
    folder: Path, host_port: int, docker0: str, delay: float, body: str = "Hello"
) -> Path:
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (folder / "requirements.txt").write_text("", encoding="utf-8")
    app = APP.format(
        host_port=host_port, docker0=docker0, delay=delay, side_port=SIDE_PORT, body=body
    )
    (folder / "app.py").write_text(app, encoding="utf-8")
    return folder


def grade(paths: list[Path], out: Path, *extra: str, mode: str = "") -> subprocess.Popen[str]:
    """``grade`` run as a child process, ``GRADER_ISOLATION=mode``."""
    command = [str(BIN / "grade"), *map(str, paths), "-o", str(out), "--force"]
    if "--lab" not in extra:
        command += ["--lab", "tp6"]
    env = {**os.environ, isolation.MODE_VARIABLE: mode}
    return subprocess.Popen(
        [*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def report(out: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / name / "report.json").read_text("utf-8"))
    return data


def status(data: dict[str, Any], check: str) -> str:
    return str(next(c["status"] for c in data["checks"] if c["id"] == check))


def grader_rules(needle: str) -> list[str]:
    """The host's iptables rules whose comment contains ``needle``."""
    text = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
    return [line for line in text.splitlines() if "docker-lab-grader" in line and needle in line]


def left_behind(engine: Engine, pid: int) -> tuple[list[Any], list[Any], list[str]]:
    """Containers, networks and firewall rules the grading process ``pid`` left."""
    containers = owned_by(pid, engine.api.containers(all=True, filters={"label": LABEL}))
    networks = owned_by(pid, engine.api.networks(filters={"label": LABEL}))
    return containers, networks, grader_rules(owner_rules(pid))


def host_facts(engine: Engine, container: dict[str, Any]) -> dict[str, Any]:
    """What the host sees of a running graded container's network."""
    attrs = engine.inspect_container(container["Id"])
    networks = attrs["NetworkSettings"]["Networks"]
    pid = attrs["State"]["Pid"]
    route = Path(f"/proc/{pid}/net/route").read_text().splitlines()[1:]
    devices = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    facts = {
        "id": container["Id"],
        "mode": attrs["HostConfig"]["NetworkMode"],
        "networks": sorted(networks),
        "interfaces": sorted(line.split(":")[0].strip() for line in devices),
        "published": attrs["NetworkSettings"]["Ports"] or {},
        "default_route": any(r.split()[1] == "00000000" for r in route),
        "address": "",
        "internal": False,
        "bridge": "",
        "rules": [],
    }
    if facts["mode"] == isolation.NO_NETWORK:  # the grader's address, on its loopback
        trie = Path(f"/proc/{pid}/net/fib_trie").read_text()
        found = sorted(set(re.findall(r"198\.1[89]\.\d+\.\d+", trie)))
        facts["address"] = found[0] if len(found) == 1 else found
        return facts
    (name, endpoint), *_ = networks.items()
    network = engine.api.inspect_network(name)
    bridge = network["Options"].get("com.docker.network.bridge.name", "")
    facts |= {"address": endpoint["IPAddress"], "internal": network["Internal"]}
    facts |= {"bridge": bridge, "rules": grader_rules(f'bridge={bridge}"') if bridge else []}
    return facts


def isolated(facts: dict[str, Any], mode: str) -> bool:
    """The container ran isolated as ``mode`` asks: no interface but its loopback (and the
    grader's one address on it), or an internal network of its own with the three rules."""
    alone = not facts["default_route"] and not any(facts["published"].values())
    if mode == "none":
        inside = facts["interfaces"] == ["lo"] and facts["networks"] == ["none"]
        return alone and inside and netns.POOL.overlaps(IPv4Network(f"{facts['address']}/32"))
    internal = facts["internal"] and facts["networks"] != ["none"] and len(facts["rules"]) == 3
    return bool(alone and internal and facts["bridge"].startswith("dlg-"))


def running_containers(engine: Engine, pid: int) -> list[dict[str, Any]]:
    return owned_by(pid, engine.api.containers(filters={"label": LABEL, "status": "running"}))


def exec_connect(engine: Engine, container_id: str, address: str, port: int) -> str:
    """From inside a graded container, try a connection to ``address:port``."""
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(({address!r}, {port}), timeout=3).close()\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    exec_id = engine.api.exec_create(container_id, ["python", "-c", code])["Id"]
    return engine.api.exec_start(exec_id).decode().strip()


@pytest.mark.parametrize("mode", MODES)
def test_a_graded_app_reaches_nothing_on_the_host(
    engine: Engine, tmp_path: Path, listener: HostListener, mode: str
) -> None:
    docker0 = docker0_address(engine)
    app = write_app(tmp_path / "class" / "egress", listener.port, docker0, delay=2)
    out = tmp_path / "out"
    proc = grade([app], out, mode=mode)
    seen: dict[str, Any] | None = None
    while proc.poll() is None and seen is None:
        for container in running_containers(engine, proc.pid):
            try:
                seen = host_facts(engine, container)
            except (OSError, KeyError, ValueError, StopIteration):
                continue  # not started yet, or already stopping
            if not seen["address"]:
                seen = None  # started, not yet given the grader's address
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    data = report(out, "egress")
    log = data["container_log"]
    # the host's listener, on every host address, received nothing from the graded app
    assert listener.peers == [], (listener.peers, log)
    assert "default route: no" in log
    assert "connected" not in log.replace("egress", "").split("crosstalk")[0], log
    assert log.count("egress ") == 2, log
    # seen from the host while it ran: no interface but its loopback (or an internal network
    # of its own and the firewall rules naming its bridge), no route out, no published port
    assert seen is not None, stdout
    assert isolated(seen, mode), seen
    # the grader still reached it as a browser would
    assert status(data, "run.starts") == "passed"
    assert status(data, "http.root_status") == "passed"
    assert data["notes"] == []
    assert left_behind(engine, proc.pid) == ([], [], [])


@pytest.mark.parametrize("mode", MODES)
def test_two_submissions_graded_at_once_cannot_reach_each_other(
    engine: Engine, tmp_path: Path, listener: HostListener, mode: str
) -> None:
    docker0 = docker0_address(engine)
    klass = tmp_path / "class"
    for name in ("alice", "bob"):  # each waits 8 s before serving: both run at once
        write_app(klass / name, listener.port, docker0, delay=8)
    out = tmp_path / "out"
    proc = grade([klass], out, "-j", "2", mode=mode)
    facts: list[dict[str, Any]] = []
    deadline = time.monotonic() + 240
    while proc.poll() is None and len(facts) < 2 and time.monotonic() < deadline:
        running = running_containers(engine, proc.pid)
        if len(running) == 2:
            try:
                facts = [host_facts(engine, c) for c in running]
            except (OSError, KeyError, ValueError, StopIteration):
                facts = []
            if not all(isinstance(f["address"], str) and f["address"] for f in facts):
                facts = []  # not both given the grader's address yet
        time.sleep(0.05)
    assert len(facts) == 2, "the two submissions never ran at the same time"
    tried = {
        (a["id"], b["address"], port): exec_connect(engine, a["id"], b["address"], port)
        for a, b in (facts, facts[::-1])
        for port in (SIDE_PORT, 8000)
    }
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert not [answer for answer in tried.values() if answer in REACHED], tried
    assert facts[0]["address"] != facts[1]["address"]
    assert mode == "none" or facts[0]["bridge"] != facts[1]["bridge"]
    assert all(isolated(f, mode) for f in facts), facts
    for name in ("alice", "bob"):
        data = report(out, name)
        assert "crosstalk: connection" not in data["container_log"], data["container_log"]
        assert status(data, "http.root_status") == "passed"
    assert listener.peers == []
    assert left_behind(engine, proc.pid) == ([], [], [])


@pytest.mark.parametrize("mode", MODES)
def test_a_graded_app_bound_to_loopback_is_still_unreachable(
    engine: Engine, repo_root: Path, tmp_path: Path, mode: str
) -> None:
    out = tmp_path / "out"
    proc = grade([repo_root / "submissions" / "tp6-binds-loopback"], out, mode=mode)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    data = report(out, "tp6-binds-loopback")
    assert status(data, "run.starts") == "passed"
    assert status(data, "http.root_status") == "failed"
    assert "127.0.0.1:8000" in json.dumps(data["checks"])
    assert left_behind(engine, proc.pid) == ([], [], [])


def test_sigterm_mid_run_and_a_dead_run_leave_no_network_or_rule(
    engine: Engine, tmp_path: Path, listener: HostListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(isolation.MODE_VARIABLE, "network")  # here and in the child
    app = write_app(tmp_path / "class" / "slow", listener.port, docker0_address(engine), 30)
    proc = grade([app], tmp_path / "out", mode="network")
    deadline = time.monotonic() + 240
    while not running_containers(engine, proc.pid) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert owned_by(proc.pid, engine.api.networks(filters={"label": LABEL}))
    assert grader_rules(owner_rules(proc.pid))
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert left_behind(engine, proc.pid) == ([], [], [])

    # a run killed outright (no clean-up of its own): the next run's sweep removes its
    # network and rules, and only those of dead runs
    owner = f"{socket.gethostname()}:{_dead_pid()}"
    labels = {LABEL: "1", LABEL_RUN: os.urandom(6).hex(), LABEL_OWNER: owner}
    made = isolation.isolate(engine, labels)
    assert made.network is not None and made.guard is not None
    assert grader_rules(f'bridge={made.network.bridge}"')
    engine.sweep()
    assert grader_rules(f'bridge={made.network.bridge}"') == []
    assert not engine.api.networks(filters={"label": f"{LABEL_RUN}={labels[LABEL_RUN]}"})
    assert not Path("/sys/class/net", made.network.bridge).exists()


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("mode", MODES)
def test_the_image_registry_runs_pulls_reaches_nothing_either(
    engine: Engine, tmp_path: Path, listener: HostListener, local_registry: str, mode: str
) -> None:
    folder = write_app(
        tmp_path / "class" / "pushed",
        listener.port,
        docker0_address(engine),
        delay=1,
        body="HelloWorld from Node",
    )
    with (folder / "Dockerfile").open("a", encoding="utf-8") as dockerfile:
        dockerfile.write("EXPOSE 8000\n")  # the lab gives no port: EXPOSE does
    reference = f"{local_registry}/netiso/egress:{os.urandom(4).hex()}"
    push_submission(engine, folder, reference)
    (folder / "submission.toml").write_text(f'image = "{reference}"\n', encoding="utf-8")
    out = tmp_path / "out"
    proc = grade([folder], out, "--lab", "tp6bis", mode=mode)
    seen: dict[str, dict[str, Any]] = {}
    while proc.poll() is None:
        for container in running_containers(engine, proc.pid):
            if container["Id"] not in seen:
                try:
                    facts = host_facts(engine, container)
                except (OSError, KeyError, ValueError, StopIteration):
                    continue
                if facts["address"]:  # given the grader's address
                    seen[container["Id"]] = facts
        time.sleep(0.05)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    data = report(out, "pushed")
    assert status(data, "registry.pushed") == "passed"
    assert status(data, "registry.runs") == "passed"
    # both containers (the built image, the pulled one) ran isolated; neither reached the host
    assert listener.peers == []
    assert len(seen) >= 2, seen
    assert all(isolated(f, mode) for f in seen.values()), seen
    assert left_behind(engine, proc.pid) == ([], [], [])


class TcpToDocker:
    """The local engine's socket offered at tcp://127.0.0.1:PORT: an engine the grader must
    treat as remote (it cannot tell where a TCP engine runs)."""

    def __init__(self, socket_path: str = "/var/run/docker.sock") -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.url = f"tcp://127.0.0.1:{self.server.getsockname()[1]}"
        self.socket_path = socket_path
        self._open: list[socket.socket] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._done.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            upstream = socket.socket(socket.AF_UNIX)
            self._open += [client, upstream]
            upstream.connect(self.socket_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for end in (src, dst):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self.server.close()
        for end in self._open:
            end.close()


def test_a_remote_engine_is_graded_as_before_and_every_report_says_isolation_is_missing(
    engine: Engine, repo_root: Path, tmp_path: Path
) -> None:
    remote = TcpToDocker()
    try:
        out = tmp_path / "out"
        klass = tmp_path / "class"
        for name in ("s1", "s2"):
            shutil.copytree(repo_root / "submissions" / "tp6-ok", klass / name)
        proc = grade([klass], out, "--docker-host", remote.url, "-j", "1")
        _, stderr = proc.communicate(timeout=600)
    finally:
        remote.close()
    assert proc.returncode == 0, stderr
    assert stderr.count("Network isolation not enforced") == 1, stderr  # said once
    for name in ("s1", "s2"):
        data = report(out, name)
        assert data["score"] == 20
        said = [n for n in data["notes"] if n.startswith("Isolement réseau non appliqué")]
        assert len(said) == 1 and remote.url in said[0]  # (the build bounds say theirs apart)
    assert left_behind(engine, proc.pid) == ([], [], [])

"""The bench's own second Docker engine for the two-worker queue run: a private dockerd with
its own data-root, exec-root, pidfile, socket and bridge, the class's base images copied in,
NAT for its bridge so that builds reach PyPI and npm; all of it removed at the end.

Names and subnet do not collide with the tests' private engines (``gr-*`` bridges,
10.213.7-41.0/24): the bridge is ``gb-<run id>``, the subnet the first free 10.213.N.0/24
with N from 64. The engine runs on this machine: it shares its CPUs with the first one.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from grader.engine import Engine
from grader.errors import EngineUnavailable

FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.IGNORECASE | re.MULTILINE)
SUBNETS = range(64, 128)
"""10.213.N.0/24: the tests' private engines use N below 64."""


def base_images(sources: Sequence[Path]) -> list[str]:
    """The images the Dockerfiles of ``sources`` start from (not their own stages)."""
    found: list[str] = []
    for src in sources:
        for dockerfile in sorted(src.rglob("Dockerfile*")):
            text = dockerfile.read_text(encoding="utf-8", errors="replace")
            stages = {m.lower() for m in re.findall(r"\bAS\s+(\S+)", text, re.IGNORECASE)}
            for image in FROM.findall(text):
                if image.lower() not in stages and image != "scratch" and image not in found:
                    found.append(image)
    return found


def free_subnet() -> int:
    """The first N of ``SUBNETS`` whose 10.213.N.0/24 no interface of this machine uses."""
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True)
    used = {int(n) for n in re.findall(r"inet 10\.213\.(\d+)\.", shown.stdout)}
    return next(n for n in SUBNETS if n not in used)


def nat_rules(bridge: str, subnet: str, tag: str) -> list[list[str]]:
    """The iptables rules (table, chain, match...) letting the bridge's builds out."""
    comment = ["-m", "comment", "--comment", tag]
    return [
        ["nat", "POSTROUTING", "-s", subnet, "!", "-o", bridge, *comment, "-j", "MASQUERADE"],
        ["filter", "FORWARD", "-i", bridge, "!", "-o", bridge, *comment, "-j", "ACCEPT"],
        ["filter", "FORWARD", "-o", bridge, "-m", "conntrack", "--ctstate",
         "RELATED,ESTABLISHED", *comment, "-j", "ACCEPT"],
    ]  # fmt: skip


def iptables(action: str, rule: list[str]) -> bool:
    """``iptables -A`` (append) or ``-D`` (delete) ``rule``; True when it did."""
    table, chain, *match = rule
    argv = ["iptables", "-w", "-t", table, action, chain, *match]
    return subprocess.run(argv, capture_output=True).returncode == 0


def load_image(tag: str, url: str) -> None:
    """Copy ``tag`` from the main engine into the one at ``url`` (no registry is reachable)."""
    with subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE) as save:
        subprocess.run(["docker", "-H", url, "load", "-q"], stdin=save.stdout, check=True,
                       capture_output=True)  # fmt: skip
    if save.returncode != 0:
        raise RuntimeError(f"docker save {tag} failed")


@contextlib.contextmanager
def second_engine(run_id: str, images: Sequence[str], timeout_s: float = 90) -> Iterator[str]:
    """A private dockerd holding ``images``, ready; yields its URL. Everything it made (the
    daemon, its bridge, NAT rules and folder) is removed on the way out, Ctrl-C included."""
    root = Path(tempfile.mkdtemp(prefix=f"bench-engine-{run_id}-", dir="/tmp"))
    bridge, n = f"gb-{run_id}"[:15], free_subnet()
    url, rules = f"unix://{root}/docker.sock", nat_rules(bridge, f"10.213.{n}.0/24", bridge)
    proc: subprocess.Popen[bytes] | None = None
    added: list[list[str]] = []
    try:
        subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", f"10.213.{n}.1/24", "dev", bridge], check=True)
        subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
        for rule in rules:
            if not iptables("-A", rule):
                raise RuntimeError(f"iptables refused {' '.join(rule)}")
            added.append(rule)
        with (root / "dockerd.log").open("ab") as log:
            proc = subprocess.Popen(
                ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
                 "--pidfile", str(root / "dockerd.pid"), "--host", url, "--bridge", bridge,
                 "--iptables=false", "--ip-masq=false"],
                stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                Engine(url).close()
                break
            except EngineUnavailable:
                if time.monotonic() > deadline or proc.poll() is not None:
                    tail = (root / "dockerd.log").read_text(errors="replace")[-800:]
                    raise RuntimeError(f"the second dockerd did not start: {tail}") from None
                time.sleep(0.2)
        for image in images:
            load_image(image, url)
        yield url
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for rule in reversed(added):
            iptables("-D", rule)
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

"""A private dockerd for tests: its own data-root, exec-root, pidfile, socket and bridge."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from grader.engine import Engine
from grader.errors import EngineUnavailable


class PrivateEngine:
    """Start, stop and restart a second Docker engine on this machine."""

    def __init__(self, name: str, subnet: str, args: tuple[str, ...] = ()) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"grader-{name}-", dir="/tmp"))
        self.bridge = f"gr-{name}"[:15]
        self.subnet = subnet
        self.url = f"unix://{self.root}/docker.sock"
        self.args = args
        """More of dockerd's options (``--config-file``...)."""
        self.proc: subprocess.Popen[bytes] | None = None
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", subnet, "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)

    def start(self, timeout_s: float = 60) -> None:
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "dockerd",
                "--data-root", str(self.root / "data"),
                "--exec-root", str(self.root / "exec"),
                "--pidfile", str(self.root / "dockerd.pid"),
                "--host", self.url,
                "--bridge", self.bridge,
                "--iptables=false",
                "--ip-masq=false",
                *self.args,
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                Engine(self.url).close()
                return
            except EngineUnavailable:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        self.proc = None

    def load_image(self, tag: str) -> None:
        """Copy an image from the main engine (no registry is reachable)."""
        with subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE) as save:
            subprocess.run(
                ["docker", "-H", self.url, "load", "-q"], stdin=save.stdout, check=True,
                capture_output=True,
            )  # fmt: skip
        assert save.returncode == 0

    def destroy(self) -> None:
        self.stop()
        subprocess.run(["ip", "link", "delete", self.bridge], check=False)
        shutil.rmtree(self.root, ignore_errors=True)

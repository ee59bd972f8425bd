"""Clean-up by label: this run's objects, and those of runs whose process is gone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from grader.engine import firewall
from grader.engine.base import EngineBase
from grader.engine.sdk import tolerated, translated
from grader.labels import LABEL, LABEL_OWNER, LABEL_RUN, live_pid, on_this_host, owner_of, run_of


class Sweeps(EngineBase):
    """``Engine``'s removals by label."""

    def sweep(self, run_id: str | None = None, images: Iterable[str] | None = None) -> int:
        """Remove the grader's containers, networks, firewall rules and images of run
        ``run_id``, or of dead owners; ``images``: the run's images when already listed
        (``run_images``), not listed again.

        Only objects carrying the grader's label are considered (rules: its comment); an
        object belongs to a dead run when its owner label names this host and a pid that no
        longer runs.
        """
        removed = 0
        with translated("list grader objects"):
            containers = self.api.containers(all=True, filters={"label": LABEL})
        for obj in containers:
            if self._sweepable(obj.get("Labels") or {}, run_id):
                self.remove_container(obj["Id"])
                removed += 1
        removed += self._sweep_networks(run_id)
        for image_id in self.run_images(run_id) if images is None else images:
            self.remove_image(image_id)
            removed += 1
        return removed

    def run_images(self, run_id: str | None, dead_too: bool = False) -> list[str]:
        """Ids of the images carrying run ``run_id``'s label (None: of dead owners; with
        ``dead_too``, of both, in one listing). The engine reads every image it holds to
        answer: tens of ms of its time with a few hundred."""
        with translated("list grader images"):
            images = self.api.images(filters={"label": LABEL})
        return [
            i["Id"]
            for i in images
            if self._sweepable(i.get("Labels") or {}, run_id)
            or (dead_too and self._sweepable(i.get("Labels") or {}, None))
        ]

    @staticmethod
    def _sweepable(labels: Mapping[str, str], run_id: str | None) -> bool:
        if run_id is not None:
            return run_of(labels) == run_id
        owner = owner_of(labels) or ""
        return on_this_host(owner) and live_pid(owner) is None

    def _sweep_networks(self, run_id: str | None) -> int:
        """Remove the run's networks (after its containers) and their firewall rules."""
        removed = 0
        with translated("list grader networks"):
            networks = self.api.networks(filters={"label": LABEL})
        for net in networks:
            if self._sweepable(net.get("Labels") or {}, run_id):
                self.remove_network(net["Id"])
                removed += 1
        if self.is_local():
            removed += firewall.sweep(
                lambda run, owner: self._sweepable({LABEL_RUN: run, LABEL_OWNER: owner}, run_id)
            )
        return removed

    def remove_network(self, network_id: str) -> None:
        """Remove a network; absent is fine."""
        with tolerated(f"remove network {network_id[:12]}"):
            self.api.remove_network(network_id)

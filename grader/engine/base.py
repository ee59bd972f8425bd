"""What every part of ``Engine`` uses: the connection, inspecting, removing an object."""

from __future__ import annotations

import logging
from typing import Any

from grader.engine.headgrpc import GrpcHead
from grader.engine.headstart import HeadStart
from grader.engine.sdk import docker, tolerated, translated
from grader.labels import LABEL

log = logging.getLogger("grader.engine")


class EngineBase:
    """The connection (``api``) and the few calls the other parts of ``Engine`` share."""

    api: docker.APIClient
    base_url: str
    _storage: dict[str, Any] | None
    _head: HeadStart | GrpcHead | None
    missing_bounds: tuple[str, ...] = ()
    """Build bounds this engine's builds ran without (``grader.engine.cgroups.BuildBounds``)."""

    def is_local(self) -> bool:
        """True when the engine runs on this machine (its /proc is ours)."""
        return self.base_url.startswith(("unix://", "npipe://"))

    def info(self) -> dict[str, Any]:
        """``docker info``, asked once per connection."""
        if self._storage is None:
            with translated("engine info"):
                self._storage = dict(self.api.info())
        return self._storage

    def inspect_image(self, image_id: str) -> dict[str, Any]:
        """``docker image inspect`` as a dict."""
        with translated("inspect image"):
            result: dict[str, Any] = self.api.inspect_image(image_id)  # type: ignore[no-untyped-call]
            return result

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        """``docker container inspect`` as a dict (always fresh)."""
        with translated("inspect container"):
            result: dict[str, Any] = self.api.inspect_container(container_id)
            return result

    def remove_container(self, container_id: str) -> None:
        """Force-remove a container; absent is fine."""
        with tolerated(f"remove container {container_id[:12]}"):
            self.api.remove_container(container_id, force=True, v=True)

    def remove_image(self, image_id: str, prune: bool = False) -> None:
        """Remove an image and the parents the grader's own label steps made; the student's
        layers below stay, as the build cache (as after ``docker build``), unless ``prune``
        (an image too large to keep: its untagged parents no other image uses go too).
        Absent or in use is logged, not raised."""
        with tolerated(f"remove image {image_id[:19]}"):
            for image in self._label_chain(image_id):
                self.api.remove_image(image, force=True, noprune=not prune)

    def _label_chain(self, image_id: str) -> list[str]:
        """``image_id`` and its parents that carry the same grader label (the label steps
        a build appended), child first."""
        chain = [image_id]
        attrs = self.api.inspect_image(image_id)  # type: ignore[no-untyped-call]
        run = ((attrs.get("Config") or {}).get("Labels") or {}).get(LABEL)
        parent = attrs.get("Parent") or ""
        while run is not None and parent:
            try:
                attrs = self.api.inspect_image(parent)  # type: ignore[no-untyped-call]
            except docker.errors.NotFound:
                break
            if ((attrs.get("Config") or {}).get("Labels") or {}).get(LABEL) != run:
                break
            chain.append(parent)
            parent = attrs.get("Parent") or ""
        return chain

"""An image's layers as stored: its history, ``docker save``, a local overlay2 engine's folders."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from grader.engine.base import EngineBase
from grader.engine.sdk import TRANSIENT, release, translated
from grader.errors import EngineError


@dataclass(frozen=True)
class OverlayLayout:
    """An image's layers as a local overlay2 engine stores them."""

    diff_dirs: tuple[str, ...]
    """Each layer's diff folder, bottom first (in ``RootFS.Layers`` order)."""
    config: str
    """The image config file (its sha256 is the image id)."""
    opaque_xattr: str
    """The extended attribute marking an opaque folder (``trusted.overlay.opaque``)."""


class Storage(EngineBase):
    """``Engine``'s reads of image layers (the image-waste diagnosis)."""

    def image_history(self, image_id: str) -> list[dict[str, Any]]:
        """``docker history``: one dict per image config history entry, newest first."""
        with translated("image history"):
            result: list[dict[str, Any]] = self.api.history(image_id)  # type: ignore[no-untyped-call]
            return result

    def save_image(self, image_id: str) -> BinaryIO:
        """``docker save`` as a readable stream (read it sequentially; never held in memory).

        Raises:
            EngineError: the engine failed (also while reading).
        """
        with translated("save image"):
            chunks = self.api.get_image(image_id, chunk_size=1 << 20)
        return io.BufferedReader(_ChunkReader(iter(chunks)), buffer_size=1 << 20)

    def overlay_layout(self, attrs: Mapping[str, Any]) -> OverlayLayout | None:
        """Where an inspected image's layers and config lie on this machine, when the engine
        is local and stores them with overlay2 and native diffs (its layer tars are then its
        diff folders as they are); None otherwise (``docker save`` is the way).

        Raises:
            EngineError: the engine failed.
        """
        if not self.is_local():
            return None
        if self._storage is None:
            with translated("engine info"):
                self._storage = dict(self.api.info())
        info = self._storage
        status = {str(k): str(v) for k, v in info.get("DriverStatus") or []}
        data = (attrs.get("GraphDriver") or {}).get("Data") or {}
        driver = (attrs.get("GraphDriver") or {}).get("Name")
        upper, lower = data.get("UpperDir"), data.get("LowerDir")
        if info.get("Driver") != "overlay2" or driver != "overlay2" or not upper:
            return None
        if status.get("Native Overlay Diff") != "true":
            return None
        top_down = [str(upper), *(str(lower).split(":") if lower else [])]
        image_hex = str(attrs.get("Id", "")).removeprefix("sha256:")
        config = f"{info.get('DockerRootDir')}/image/overlay2/imagedb/content/sha256/{image_hex}"
        xattr = (
            "user.overlay.opaque" if status.get("userxattr") == "true" else "trusted.overlay.opaque"
        )
        return OverlayLayout(tuple(reversed(top_down)), config, xattr)


class _ChunkReader(io.RawIOBase):
    """A file-like view of an iterator of byte chunks, translating transport errors."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
            except TRANSIENT as exc:
                release(exc)
                raise EngineError(f"save image: {exc}") from exc
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

"""The image-waste stage: history and layers from the engine, summarised by ``layers``.

A local overlay2 engine's layer folders are read in place (``grader.stages.overlay``), only the
student's; any other engine, or folders that cannot be read, streams ``docker save``.

The base image's layers (a prefix of the final image's ``RootFS.Layers`` equal to the base
image's own) are never counted against the student; when the base cannot be inspected, the
whole image is, and the facts say so (``scope``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from grader.engine import Engine
from grader.errors import EngineError
from grader.facts import WasteFacts
from grader.labels import LABEL
from grader.stages import layers, overlay

log = logging.getLogger(__name__)

MAX_ENTRIES = 300_000
"""Most files and folders the student's layer folders are walked for; beyond, ``docker save``."""


def _base(engine: Engine, base: str | None) -> tuple[list[str] | None, int]:
    """The base image's diff ids and number of history entries (None when unknown)."""
    if base is None:
        return None, 0
    if base == "scratch":
        return [], 0
    try:
        attrs = engine.inspect_image(base)
        entries = len(engine.image_history(base))
    except EngineError as exc:
        log.info("base image %s not inspectable: %s", base, exc)
        return None, 0
    return list((attrs.get("RootFS") or {}).get("Layers") or []), entries


def image_waste(
    engine: Engine,
    image_id: str,
    base: str | None,
    written: list[str],
    limits: tuple[int, int],
    dev_packages: tuple[str, ...] = (),
    fast: bool = True,
) -> WasteFacts:
    """Per-layer table and wasted bytes of the student's layers.

    Args:
        written: the final stage's instructions after FROM, as the student wrote them.
        limits: the largest image read (bytes) and how many offenders to keep.
        dev_packages: the submission's devDependencies (their folders count as waste).
        fast: read the layers' folders when the engine allows it (False: always ``docker save``).

    Raises:
        EngineError: the engine failed.
    """
    max_bytes, top = limits
    attrs = engine.inspect_image(image_id)
    diff_ids = list((attrs.get("RootFS") or {}).get("Layers") or [])
    history = list(reversed(engine.image_history(image_id)))
    base_ids, base_entries = _base(engine, base)
    shared = base_ids is not None and diff_ids[: len(base_ids)] == base_ids
    base_entries = base_entries if shared else 0
    names = layers.history_names(history, base_entries, written, f"LABEL {LABEL}")
    rows = layers.layer_rows(history, names, base_entries, base or "?")
    scope = "student" if shared else "image"
    if int(attrs.get("Size") or 0) > max_bytes:
        return WasteFacts(tuple(rows), scope, analysed=False)
    counted = diff_ids[len(base_ids or []) :] if shared else diff_ids
    if not counted:
        return layers.summarise(rows, scope, [], top, dev_packages)
    read = _from_overlay(engine, attrs, diff_ids, len(counted)) if fast else None
    method = "overlay2" if read else "docker save"
    contents, config = read or _from_save(engine, image_id, counted)
    by_layer = layers.layer_names(config, names, diff_ids)
    ordered = [
        (by_layer.get(d, "?"), c) for d, c in zip(counted, contents, strict=True) if c is not None
    ]
    facts = layers.summarise(rows, scope, ordered, top, dev_packages)
    return replace(facts, method=method)


def _from_save(
    engine: Engine, image_id: str, counted: list[str]
) -> tuple[list[layers.LayerContent | None], Any]:
    """The counted layers' contents (None for one the archive lacks) and the image config,
    from ``docker save`` (the whole image streamed)."""
    with engine.save_image(image_id) as stream:
        found, config = layers.read_saved_image(stream, set(counted))
        while stream.read(1 << 20):  # the tar's end padding: read to the end, freeing the socket
            pass
    return [found.get(d) for d in counted], config


def _from_overlay(
    engine: Engine, attrs: dict[str, Any], diff_ids: list[str], count: int
) -> tuple[list[layers.LayerContent | None], Any] | None:
    """The top ``count`` layers' contents and the image config, read from the engine's own
    folders when it is local and uses overlay2; None when that cannot be done."""
    layout = engine.overlay_layout(attrs)
    if layout is None or len(layout.diff_dirs) != len(diff_ids):
        return None
    dirs = list(layout.diff_dirs[len(diff_ids) - count :])
    try:
        config = overlay.read_config(layout.config, str(attrs.get("Id")))
        contents = overlay.read_layers(dirs, layout.opaque_xattr, MAX_ENTRIES)
    except overlay.Unreadable as exc:
        log.info("layers read with docker save: %s", exc)
        return None
    return [*contents], config

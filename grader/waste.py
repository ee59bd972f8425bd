"""The image-waste stage: history and layers from the engine, summarised by ``grader.layers``.

The base image's layers (a prefix of the final image's ``RootFS.Layers`` equal to the base
image's own) are never counted against the student; when the base cannot be inspected, the
whole image is, and the facts say so (``scope``).
"""

from __future__ import annotations

import logging

from grader import layers
from grader.engine import LABEL, Engine
from grader.errors import EngineError
from grader.facts import WasteFacts

log = logging.getLogger(__name__)


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
) -> WasteFacts:
    """Per-layer table and wasted bytes of the student's layers.

    Args:
        written: the final stage's instructions after FROM, as the student wrote them.
        limits: the largest image read (bytes) and how many offenders to keep.
        dev_packages: the submission's devDependencies (their folders count as waste).

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
    with engine.save_image(image_id) as stream:
        found, config = layers.read_saved_image(stream, set(counted))
        while stream.read(1 << 20):  # the tar's end padding: read to the end, freeing the socket
            pass
    by_layer = layers.layer_names(config, names, diff_ids)
    ordered = [(by_layer.get(d, "?"), found[d]) for d in counted if d in found]
    return layers.summarise(rows, scope, ordered, top, dev_packages)

"""Reads from a student's image or container, streamed and capped: a file of gigabytes, a
folder where a file is expected, or a ``cat`` that never ends never fills the grader's memory.
"""

from __future__ import annotations

import gc
import io
import tarfile
import warnings
from collections.abc import Generator, Iterable, Iterator, Mapping
from typing import Any, Protocol

from grader.engine.storage import _ChunkReader

FILE_LIMIT = 1 << 20
"""Most bytes read of one file from an image or a container (``/etc/passwd``, a
``package.json``, ``/proc/net/tcp``): far above any honest one."""
_DIR_BIT = 1 << 31
"""Go's ``os.ModeDir``, as the archive API's ``X-Docker-Container-Path-Stat`` gives it."""


def is_folder(stat: Mapping[str, Any] | None) -> bool:
    """True when the archive API's stat of a path says it is a folder."""
    return bool(stat) and bool(int((stat or {}).get("mode") or 0) & _DIR_BIT)


def first_file(chunks: Iterator[bytes], limit: int = FILE_LIMIT) -> bytes | None:
    """The first ``limit`` bytes of the regular file a ``get_archive`` tar stream holds (read
    as a stream, never whole); None when its first entry is not a regular file.

    Raises:
        EngineError: the engine failed while sending it.
    """
    reader = io.BufferedReader(_ChunkReader(chunks), buffer_size=1 << 16)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            member = tar.next()
            if member is None or not member.isfile():
                return None
            extracted = tar.extractfile(member)
            return extracted.read(limit) if extracted else None
    except tarfile.TarError:
        return None


def capped(chunks: Iterable[bytes], limit: int = FILE_LIMIT) -> bytes | None:
    """The bytes of ``chunks`` when they are no more than ``limit``; None beyond (the rest is
    not read)."""
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > limit:
            return None
    return bytes(out)


def finish(stream: Generator[bytes, None, None], budget: int = FILE_LIMIT) -> None:
    """Read what is left of a ``get_archive`` stream, up to ``budget`` bytes, so that its
    connection goes back to the pool; past that, drop the connection (``drop``)."""
    for chunk in stream:
        budget -= len(chunk)
        if budget < 0:
            break
    else:
        return
    drop(stream)


class Closable(Protocol):
    """A stream docker-py returns (a generator, or an exec's ``CancellableStream``)."""

    def close(self) -> None:
        """Stop it."""


def drop(stream: Closable) -> None:
    """Close a docker-py stream and its connection, silently: docker-py gives no way to close
    the response behind a generator, and an exec's ``CancellableStream`` closes its socket
    under the feet of the file objects made from it: either way the socket warns when freed
    (ResourceWarning), though nothing is left open."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        stream.close()
        gc.collect()

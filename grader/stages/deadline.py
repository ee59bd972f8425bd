"""A call bounded in time from the outside, for waits the call itself cannot bound: a page
dripped a byte at a time, a shell in a student's container that never answers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def within(seconds: float, call: Callable[[], T], name: str = "bounded") -> T:
    """``call()``'s result or exception, or TimeoutError after ``seconds``: the call goes on
    in a daemon thread until what it waits for ends (a closed connection, a removed
    container), its result then dropped."""
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(call())
        except BaseException as exc:  # handed to the caller
            failed.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(max(seconds, 0.0))
    if failed:
        raise failed[0]
    if not done:
        raise TimeoutError(f"no answer within {seconds:g} s")
    return done[0]

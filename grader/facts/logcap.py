"""Bounded text: keep the head and the tail of a long log and say how much was cut."""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
"""Terminal colour and cursor codes (pip colours its warnings), meaningless in a report."""


class CappedText:
    """Accumulates text, keeping at most ``limit`` characters: the head and the tail."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 64)
        self._head: list[str] = []
        self._head_len = 0
        self._tail = ""
        self.total = 0

    def add(self, text: str) -> None:
        """Append text (terminal codes removed); memory stays bounded whatever is added."""
        text = ANSI.sub("", text)
        self.total += len(text)
        room = self.limit // 2 - self._head_len
        if room > 0:
            self._head.append(text[:room])
            self._head_len += len(text[:room])
            text = text[room:]
        if text:
            self._tail = (self._tail + text)[-(self.limit - self.limit // 2) :]

    def text(self) -> str:
        """The kept text, with a marker where the middle was cut."""
        head = "".join(self._head)
        cut = self.total - len(head) - len(self._tail)
        if cut <= 0:
            return head + self._tail
        return f"{head}\n[... {cut} characters cut ...]\n{self._tail}"


def cap(text: str, limit: int) -> str:
    """``text`` bounded to about ``limit`` characters (head and tail kept)."""
    capped = CappedText(limit)
    capped.add(text)
    return capped.text()


def tail_lines(text: str, count: int) -> str:
    """The last ``count`` non-empty lines of ``text``."""
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:])


_ERROR_WORDS = ("Error", "error:", "Exception", "ERROR", "fatal", "not found")
_EXCEPTION = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b.*:")
"""A Python exception line, e.g. ``ImportError: cannot import name 'Markup'``."""


def key_line(text: str) -> str:
    """The most telling line of a log: the last exception line (a server's own "worker failed"
    summary comes after the cause), else the last line naming an error, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if _EXCEPTION.match(line):
            return line
    for line in reversed(lines):
        if any(word in line for word in _ERROR_WORDS) and not line.startswith("Traceback"):
            return line
    return lines[-1] if lines else ""

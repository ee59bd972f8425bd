"""Safe cells for every CSV the grader writes: a student's text never runs as a formula.

A spreadsheet (Excel, LibreOffice, Google Sheets) reads a cell that starts with ``=``, ``+``,
``-`` or ``@`` (and, in some, a tab or a carriage return) as a formula: a submission named
``=HYPERLINK(...)`` or a declared student ``@SUM(...)`` would run when the instructor opens the
gradebook. Such cells get a leading ``'`` (OWASP's advice); numbers are left as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters a spreadsheet may read as the start of a formula."""
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: object) -> str:
    """``value`` as a CSV cell no spreadsheet runs: a leading ``'`` when it could be read as a
    formula (plain numbers, such as ``-1`` or ``+2.5``, are kept). A carriage return becomes a
    line feed: Python's writer does not quote a lone ``\\r`` when lines end in ``\\n``, and a
    spreadsheet would read it as the start of a new row."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        text = "'" + text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def safe_row(values: Iterable[object]) -> list[str]:
    """Every cell of a row made safe (``safe_cell``)."""
    return [safe_cell(v) for v in values]


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """A whole CSV document (``\\n`` line ends), every cell made safe: what every CSV exporter
    of the grader writes through."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(safe_row(row) for row in rows)
    return out.getvalue()

"""grader/facts/logcap.py: bounded logs (head + tail), ANSI removal, tails and key lines."""

from __future__ import annotations

import re

from grader.facts.logcap import CappedText, cap, key_line, tail_lines

MARKER = re.compile(r"\n\[\.\.\. (\d+) characters cut \.\.\.\]\n")


def test_one_megabyte_stays_bounded_keeping_head_and_tail() -> None:
    capped = CappedText(1000)
    chunk = "".join(f"line {i:06d}\n" for i in range(100))  # 1200 characters
    total = 0
    capped.add("HEAD-START\n")
    total += len("HEAD-START\n")
    while total < 1_000_000:
        capped.add(chunk)
        total += len(chunk)
    capped.add("TAIL-END\n")
    total += len("TAIL-END\n")
    text = capped.text()
    match = MARKER.search(text)
    assert match is not None
    assert len(text) - len(match.group(0)) <= 1000
    assert text.startswith("HEAD-START\n")
    assert text.endswith("TAIL-END\n")
    assert int(match.group(1)) == total - 1000
    assert capped.total == total


def test_head_and_tail_are_exact_halves() -> None:
    text = "a" * 100 + "b" * 100 + "c" * 100
    capped = CappedText(100)
    capped.add(text)
    assert capped.text() == "a" * 50 + "\n[... 200 characters cut ...]\n" + "c" * 50


def test_short_text_is_kept_whole_without_marker() -> None:
    capped = CappedText(100)
    capped.add("hello ")
    capped.add("world")
    assert capped.text() == "hello world"


def test_text_exactly_at_the_limit_is_not_cut() -> None:
    capped = CappedText(100)
    capped.add("x" * 100)
    assert capped.text() == "x" * 100


def test_limit_has_a_floor() -> None:
    assert CappedText(1).limit == 64


def test_ansi_codes_are_stripped() -> None:
    capped = CappedText(1000)
    capped.add("\x1b[1;33mWARNING\x1b[0m: pip is old\x1b[?25l\n")
    assert capped.text() == "WARNING: pip is old\n"
    assert capped.total == len("WARNING: pip is old\n")


def test_cap_function() -> None:
    assert cap("short", 100) == "short"
    long = "h" * 40 + "m" * 1000 + "t" * 40
    out = cap(long, 80)
    assert out == "h" * 40 + "\n[... 1000 characters cut ...]\n" + "t" * 40


def test_tail_lines_skips_blank_lines() -> None:
    text = "one\n\ntwo\n   \nthree\nfour\n\n"
    assert tail_lines(text, 2) == "three\nfour"
    assert tail_lines(text, 10) == "one\ntwo\nthree\nfour"
    assert tail_lines("", 3) == ""


def test_key_line_is_the_last_error_line_after_a_traceback() -> None:
    log = """\
[2024-03-01 10:00:00 +0000] [1] [INFO] Starting gunicorn 21.2.0
[2024-03-01 10:00:00 +0000] [7] [INFO] Booting worker with pid: 7
Traceback (most recent call last):
  File "/app/app.py", line 1, in <module>
    from flaks import Flask
ImportError: cannot import name 'Flask' from 'flaks'
[2024-03-01 10:00:01 +0000] [7] [INFO] Worker exiting (pid: 7)
"""
    assert key_line(log) == "ImportError: cannot import name 'Flask' from 'flaks'"


def test_key_line_never_picks_the_traceback_header() -> None:
    assert key_line("Traceback (most recent call last):\n  File x\n") == "File x"


def test_key_line_falls_back_to_the_last_line() -> None:
    assert key_line("starting\nlistening on 8000\n\n") == "listening on 8000"
    assert key_line("") == ""


def test_key_line_prefers_the_exception_over_gunicorns_summary() -> None:
    log = "\n".join(
        [
            "[2026-11-23 15:54:18 +0000] [7] [ERROR] Exception in worker process",
            "Traceback (most recent call last):",
            '  File "/usr/lib/python3/flask/__init__.py", line 19, in <module>',
            "    from jinja2 import Markup, escape",
            "ImportError: cannot import name 'Markup' from 'jinja2'",
            "[2026-11-23 15:54:18 +0000] [7] [INFO] Worker exiting (pid: 7)",
            "[2026-11-23 15:54:18 +0000] [1] [ERROR] Reason: Worker failed to boot.",
        ]
    )
    assert key_line(log) == "ImportError: cannot import name 'Markup' from 'jinja2'"

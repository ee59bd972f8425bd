"""The benchmark's printed table (Markdown, so the README can quote it as it is)."""

from __future__ import annotations

from typing import Any

from bench.listen import HELD_UP_MS
from bench.stats import status_word


def _s(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def listen_cell(sub: dict[str, Any]) -> str:
    """Listen-to-probe milliseconds; ``< 1`` when seen in the same read; ``±N`` when the
    bench's poller was held up (see ``bench.listen``)."""
    ms, spread = sub["listen_to_probe_ms"], sub.get("listen_uncertainty_ms")
    if ms is None:
        return "–"
    text = "< 1" if ms < 1 else f"{ms:.0f}"
    return f"{text} ±{spread:.0f}" if spread is not None and spread > HELD_UP_MS else text


def submissions_table(doc: dict[str, Any]) -> list[str]:
    """One row per submission timed side by side, then the class row."""
    lines = [
        "| submission | cold floor s | cold grader s | cold ratio | warm floor s "
        "| warm grader s | warm added s | listen→probe ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in doc["submissions"]:
        if "error" in s:
            lines.append(f"| {s['name']} | not measured: {s['error']} |||||||")
            continue
        c, w = s["cold"], s["warm"]
        lines.append(
            f"| {s['name']} | {_s(c['floor_median_s'])} | {_s(c['grader_median_s'])} "
            f"| {_s(c['ratio'])} | {_s(w['floor_median_s'])} | {_s(w['grader_median_s'])} "
            f"| {_s(w['added_s'], sign=True)} | {listen_cell(s)} |"
        )
    t = doc["class_totals"]
    if t["submissions"] > 1:
        lines.append(
            f"| **all {t['submissions']}** | {_s(t['cold_floor_s'])} | {_s(t['cold_grader_s'])} "
            f"| {_s(t['cold_ratio'])} | {_s(t['warm_floor_s'])} | {_s(t['warm_grader_s'])} "
            f"| {_s(t['warm_added_per_submission_s'], sign=True)} / sub | |"
        )
    return lines


def _sources(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 4 else f"{len(names)} submissions (in the JSON file)"


def class_table(doc: dict[str, Any]) -> list[str]:
    """The generated class's runs."""
    k = doc.get("class_run")
    if not k:
        return []
    floors = k.get("floor") or {}
    ratios = k.get("floor_ratio") or {}
    lines = [
        f"Class of {k['size']} generated from {_sources(k['sources'])}, each student with its "
        "own app change; the raw floor is `xargs -P N` of build, run, curl until 200, rm -f:",
        "",
        "| run | seconds | raw floor s | grader / floor | graded | checks in error | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in (("j1", "-j 1"), ("j2", "-j 2"), ("j4", "-j 4"),
                       ("regrade", "unchanged, again")):  # fmt: skip
        run, floor = k.get(key), floors.get(key)
        if run:
            lines.append(
                f"| {label} | {_s(run['seconds'])} | {_s(floor['seconds'] if floor else None)} "
                f"| {_s(ratios.get(key))} | {run['graded']} | {run['checks_error']} "
                f"| {_s(run['peak_rss_mb'], 0)} |"
            )
        else:
            lines.append(f"| {label} | not run | | | | | |")
    return lines


def targets_table(doc: dict[str, Any]) -> list[str]:
    """Every target, its measured value and pass / FAIL / n/a."""
    lines = ["| target | limit | measured | result | note |", "|---|---:|---:|---|---|"]
    for t in doc["targets"]:
        digits = 0 if t["unit"] in ("ms", "MB") else 2
        value = "–" if t["value"] is None else f"{t['value']:.{digits}f} {t['unit']}"
        lines.append(
            f"| {t['label']} | {t['op']} {t['limit']:g} {t['unit']} | {value} "
            f"| {status_word(t['passed'])} | {t['note']} |"
        )
    return lines


def _loaded(grader: dict[str, Any]) -> str:
    loaded = grader.get("loaded_s")  # absent from files written before it was measured
    return "n/a" if loaded is None else f"{loaded:.2f} s"


def render(doc: dict[str, Any]) -> str:
    """The whole printed report."""
    g = doc["grader"]
    head = [
        f"Benchmark {doc['run_id']} on {doc['machine']['hostname']} ({doc['machine']['cpus']} "
        f"CPUs, Docker {doc['machine']['docker']}), {doc['started']}: medians of "
        f"{doc['options']['repeat']} repeat(s), floor and grader alternated.",
        f"Grader start-up: {g['startup_s']:.2f} s before a single submission's build is sent "
        f"(grade --version: the command line alone); {_loaded(g)} to load the whole grader "
        "(grade --list-labs: a class run's start-up; one submission's run loads it while its "
        "build runs). Both are inside the grader times below.",
        f"grade -j: {'yes' if g['jobs_flag'] else 'not offered'}; grade --force: "
        f"{'yes' if g['force_flag'] else 'not offered'}.",
        "",
    ]
    body = submissions_table(doc) + [""] + class_table(doc)
    notes = [f"- {n}" for n in doc.get("notes", []) + (doc.get("class_run") or {}).get("notes", [])]
    tail = ["", *targets_table(doc)] + (["", *notes] if notes else [])
    return "\n".join(head + body + tail)

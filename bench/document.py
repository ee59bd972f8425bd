"""The benchmark's JSON document: the measurements, the class totals and the targets' verdicts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.stats import Verdict, difference, evaluate, ratio, total


def class_totals(submissions: list[dict[str, Any]]) -> dict[str, Any]:
    """The side-by-side submissions taken together: sums of medians, ratio, added seconds."""
    measured = [s for s in submissions if "error" not in s]

    def col(phase: str, key: str) -> float | None:
        return total([s[phase][key] for s in measured])

    cold_f, cold_g = col("cold", "floor_median_s"), col("cold", "grader_median_s")
    warm_f, warm_g = col("warm", "floor_median_s"), col("warm", "grader_median_s")
    added = difference(warm_g, warm_f)
    return {
        "submissions": len(measured),
        "cold_floor_s": cold_f,
        "cold_grader_s": cold_g,
        "cold_ratio": ratio(cold_g, cold_f),
        "warm_floor_s": warm_f,
        "warm_grader_s": warm_g,
        "warm_added_s": added,
        "warm_added_per_submission_s": None if added is None else added / max(len(measured), 1),
    }


def _x(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.2f}"


def upper_bound(ms: float | None, uncertainty_ms: float | None) -> float | None:
    """The most the listen-to-probe time can have been, given the poller's uncertainty."""
    return None if ms is None else ms + (uncertainty_ms or 0.0)


def verdicts(submissions: list[dict[str, Any]], klass: dict[str, Any] | None) -> list[Verdict]:
    """Every target's verdict (the worst submission counts for per-submission targets)."""
    measured = [s for s in submissions if "error" not in s]
    # judged on the upper bound: the figure plus the poller's uncertainty
    listen = [
        upper_bound(s["listen_to_probe_ms"], s.get("listen_uncertainty_ms")) for s in measured
    ]
    listen_notes = "; ".join(
        f"{s['name']}: {s['listen_note']}" for s in measured if s["listen_note"]
    )
    k = klass or {}
    no_class = "" if klass else "no class run (--class-size 0)"
    memory_note = ""
    if klass and k.get("peak_rss_jobs") != 4:
        memory_note = f"measured at -j {k.get('peak_rss_jobs')}: grade offers no -j"
    parallel_note = no_class or ("" if k.get("j2") else "grade offers no -j")
    floors = k.get("floor") or {}
    if not parallel_note and all(floors.get(j, {}).get("seconds") for j in ("j1", "j2")):
        own = floors["j2"]["seconds"] / floors["j1"]["seconds"]  # what the machine allows
        parallel_note = f"the raw floor's own -P 2 / -P 1: {_x(own)}"
    by_jobs = k.get("floor_ratio") or {}
    floor_ratios = list(by_jobs.values())
    floor_note = ", ".join(f"-j {j[1:]}: {_x(r)}" for j, r in by_jobs.items())
    return [
        evaluate("cold_ratio", [s["cold"]["ratio"] for s in measured]),
        evaluate("warm_added", [s["warm"]["added_s"] for s in measured]),
        evaluate("listen_to_probe", listen, listen_notes),
        evaluate("class_floor_ratio", floor_ratios, no_class or floor_note),
        evaluate("parallel_ratio", [k.get("parallel_ratio")], parallel_note),
        evaluate("regrade_fraction", [k.get("regrade_fraction")], no_class),
        evaluate("peak_rss", [k.get("peak_rss_mb")], no_class or memory_note),
    ]


def assemble(
    meta: dict[str, Any], submissions: list[dict[str, Any]], klass: dict[str, Any] | None
) -> dict[str, Any]:
    """The whole document."""
    return {
        **meta,
        "submissions": submissions,
        "class_totals": class_totals(submissions),
        "class_run": klass,
        "targets": [v.to_dict() for v in verdicts(submissions, klass)],
    }


def write(document: dict[str, Any], path: Path) -> None:
    """Write the document atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)

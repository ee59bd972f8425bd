"""report.html: one submission's self-contained page (no script, no network); all text escaped."""

from __future__ import annotations

from typing import Any

from grader.facts.logcap import tail_lines
from grader.facts.results import SubmissionReport
from grader.i18n import t
from grader.report.layout import layout
from grader.report.templating import render as render_template

LOG_LINES = 40
"""Lines of each log shown (the whole bounded log is in build.log / container.log)."""
GRADER_LABELS = "org.docker-lab-grader"
"""Labels the grader puts on images (not the student's): not shown."""
INSTRUCTION_CHARS = 300
"""A layer's instruction is cut to this length."""


def human_size(size: float) -> str:
    """``1234567`` -> ``1.2 MB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:g} B"


def _words(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def fact_rows(facts: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, value) of the image facts worth showing, labels in ``lang``."""
    rows: list[tuple[str, Any]] = []
    if isinstance(facts.get("size_bytes"), int | float):
        rows.append(("report.fact_size", human_size(facts["size_bytes"])))
    single = facts.get("single_stage_bytes")
    if isinstance(single, int | float) and single:
        rows.append(("report.fact_single_size", human_size(single)))
        saving = human_size(facts.get("saving_bytes") or 0)
        rows.append(("report.fact_saving", f"{saving} ({facts.get('saving_percent')} %)"))
    if isinstance(facts.get("layers"), int) and not facts.get("layer_table"):
        rows.append(("html.fact_layers", facts["layers"]))
    if "user" in facts:
        user = facts.get("user") or "root"
        uid = facts.get("uid")
        rows.append(("report.fact_user", user if uid is None else f"{user} (uid {uid})"))
    if facts.get("process_uid") is not None:
        rows.append(("html.fact_process_uid", facts["process_uid"]))
    for key in ("exposed_ports", "entrypoint", "cmd", "workdir", "listening"):
        if facts.get(key) not in (None, "", []):
            rows.append((f"report.fact_{key}", _words(facts[key])))
    if facts.get("builder") in ("buildkit", "classic"):
        rows.append(("builder.fact", t(f"builder.{facts['builder']}", lang)))
    shown = [(t(key, lang), str(value)) for key, value in rows]
    labels = facts.get("labels")
    if isinstance(labels, dict):
        own = [(k, v) for k, v in labels.items() if not k.startswith(GRADER_LABELS)]
        shown += [(t("html.fact_label", lang, name=k), str(v)) for k, v in own]
    return shown


def layer_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The image's layers (base first) with their sizes, from ``facts["layer_table"]``."""
    table = facts.get("layer_table")
    if not isinstance(table, list):
        return []
    layers = [
        (str(row.get("instruction", "")), int(row.get("size_bytes") or 0))
        for row in table
        if isinstance(row, dict)
    ]
    largest = max((size for _, size in layers), default=0) or 1
    return [
        {
            "instruction": text[:INSTRUCTION_CHARS]
            + ("…" if len(text) > INSTRUCTION_CHARS else ""),
            "size_bytes": size,
            "size": human_size(size),
            "width": round(12 * size / largest, 2),
        }
        for text, size in layers
    ]


def render(report: SubmissionReport) -> tuple[str, str]:
    """``report.html`` for one submission."""
    lang = report.lang
    facts = report.facts
    stages = facts.get("stages")
    stages = stages if isinstance(stages, list) and len(stages) >= 2 else []
    logs = [
        (t(f"report.{key}", lang), tail_lines(text, LOG_LINES))
        for key, text in (("build_log", report.build_log), ("container_log", report.container_log))
        if text.strip()
    ]
    page = render_template(
        "report.html.j2",
        report=report,
        lang=lang,
        to_fix=sum(c.needs_work for c in report.checks),
        parts=layout(report),
        facts=fact_rows(facts, lang),
        layers=layer_rows(facts),
        stages=stages,
        logs=logs,
    )
    return "report.html", page

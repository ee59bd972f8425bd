"""report.md: the student's report, readable as text or rendered (student content escaped)."""

from __future__ import annotations

import re
from typing import Any

from grader.i18n import t
from grader.logcap import tail_lines
from grader.results import CheckResult, Status, SubmissionReport

ICONS = {Status.PASSED: "✅", Status.FAILED: "❌", Status.ERROR: "⚠️", Status.SKIPPED: "➖"}
_SPECIAL = re.compile(r"([\\`*_\[\]<>|&])")


def escape(text: str) -> str:
    """Markdown- and HTML-inert inline text: no tag, link or emphasis from student content."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def block(text: str) -> str:
    """A fenced code block that no content can close early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def _check_section(check: CheckResult, lang: str) -> list[str]:
    head = f"### {ICONS[check.status]} `{check.id}` ({check.score:g}/{check.max_score:g})"
    fb = check.feedback
    if fb is None:
        return [head, "", escape(check.message), ""]
    lines = [head, "", escape(fb.summary), ""]
    for key, value in (("expected", fb.expected), ("found", fb.found), ("fix", fb.fix)):
        if value:
            lines.append(f"- **{t(f'report.{key}', lang)}**: {escape(value)}")
    if fb.evidence:
        lines += ["", block(fb.evidence)]
    return [*lines, ""]


def _facts(facts: dict[str, Any], lang: str) -> list[str]:
    single = facts.get("single_stage_bytes")
    rows = [
        ("size", f"{facts['size_mb']} MB" if "size_mb" in facts else None),
        ("single_size", f"{single / 1e6:.1f} MB" if single else None),
        ("saving", _saving(facts) if single else None),
        ("user", facts.get("user") or ("root" if "user" in facts else None)),
        ("exposed_ports", ", ".join(map(str, facts.get("exposed_ports", []))) or None),
        ("entrypoint", " ".join(facts.get("entrypoint", [])) or None),
        ("cmd", " ".join(facts.get("cmd", [])) or None),
        ("workdir", facts.get("workdir")),
        ("listening", facts.get("listening")),
    ]
    shown = [(k, v) for k, v in rows if v not in (None, "")]
    if not shown:
        return []
    lines = [f"## {t('report.image', lang)}", "", "| | |", "|---|---|"]
    lines += [f"| {t(f'report.fact_{k}', lang)} | {escape(str(v))} |" for k, v in shown]
    return [*lines, ""]


def _saving(facts: dict[str, Any]) -> str:
    return f"{facts.get('saving_bytes', 0) / 1e6:.1f} MB ({facts.get('saving_percent', 0)} %)"


def _stages(facts: dict[str, Any], lang: str) -> list[str]:
    stages = facts.get("stages") or []
    if len(stages) < 2:
        return []
    head = [t(f"report.stage_{k}", lang) for k in ("name", "base", "runs")]
    lines = [
        f"## {t('report.stages', lang)}",
        "",
        f"| # | {' | '.join(head)} |",
        "|---|---|---|---|",
    ]
    for s in stages:
        runs = "<br>".join(escape(r) for r in s.get("runs", [])) or "-"
        lines.append(
            f"| {s['index']} | {escape(s.get('name') or '-')} | {escape(s['base'])} | {runs} |"
        )
    return [*lines, ""]


def render(report: SubmissionReport) -> tuple[str, str]:
    """``report.md``: score, a table of checks, details of what did not pass, facts, logs."""
    lang = report.lang
    lines = [
        f"# {escape(report.submission)} — {escape(report.lab)}",
        "",
        f"**{t('report.score', lang)}: {report.score:g} / {report.max_score:g}**",
        "",
    ]
    lines += [f"> {escape(note)}" for note in report.notes]
    if report.facts.get("builder") in ("buildkit", "classic"):
        name = t(f"builder.{report.facts['builder']}", lang)
        lines += [t("builder.line", lang, builder=name), ""]
    lines += [
        f"| {t('report.check', lang)} | {t('report.status', lang)} | {t('report.points', lang)} |"
    ]
    lines += ["|---|---|---|"]
    for c in report.checks:
        lines.append(
            f"| `{c.id}` | {ICONS[c.status]} {c.status.value} | {c.score:g}/{c.max_score:g} |"
        )
    lines.append("")
    detailed = [c for c in report.checks if c.status is not Status.PASSED or c.feedback]
    if detailed:
        lines += [f"## {t('report.details', lang)}", ""]
        for c in detailed:
            lines += _check_section(c, lang)
    lines += _stages(report.facts, lang)
    lines += _facts(report.facts, lang)
    for key, text in (("build_log", report.build_log), ("container_log", report.container_log)):
        if text.strip():
            lines += [f"## {t(f'report.{key}', lang)}", "", block(tail_lines(text, 40)), ""]
    return "report.md", "\n".join(lines)

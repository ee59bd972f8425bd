"""report.md: the student's report, readable as text or rendered (student content escaped)."""

from __future__ import annotations

import re
from typing import Any

from grader.facts.logcap import tail_lines
from grader.facts.results import CheckResult, Status, SubmissionReport
from grader.i18n import t
from grader.report.layout import Blocked, layout

ICONS = {
    Status.PASSED: "✅",
    Status.FAILED: "❌",
    Status.NOT_RUN: "➖",
    Status.ADVICE: "💡",
    Status.ERROR: "⚠️",
}
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


def status_text(check: CheckResult, lang: str) -> str:
    """A check's status in words, with what blocked it (``not run (blocked by build.succeeds)``)."""
    text = t(f"statuses.status_{check.status.value}", lang)
    if check.blocked_by:
        text += f" ({t('statuses.blocked_by', lang, check=check.blocked_by)})"
    return text


def _blocked_section(group: Blocked, lang: str) -> list[str]:
    """One cause, once: why, how to unblock, and the checks it stopped."""
    lines = [f"### {ICONS[Status.NOT_RUN]} {escape(group.heading(lang))}", ""]
    fb = group.feedback
    if fb is not None and fb.summary:
        lines += [escape(fb.summary), ""]
    if fb is not None and fb.found:
        lines += [f"- **{t('report.found', lang)}**: {escape(fb.found)}"]
    if group.blocker:
        fix = t("statuses.blocked_fix", lang, check=f"`{group.blocker}`")
        lines += [f"- **{t('report.fix', lang)}**: {fix}"]
    elif fb is not None and fb.fix:
        lines += [f"- **{t('report.fix', lang)}**: {escape(fb.fix)}"]
    lines += ["", t("statuses.blocked_checks", lang), ""]
    lines += [f"- `{c.id}` ({c.max_score:g})" for c in group.checks]
    return [*lines, ""]


def _sections(report: SubmissionReport) -> list[str]:
    """What to fix first, what was not evaluated and why (once per cause), errors, advice,
    then the remarks on checks passed."""
    lang, parts = report.lang, layout(report)
    lines: list[str] = []
    if parts.fix_first:
        lines += [f"## {t('statuses.fix_first', lang)}", "", t("statuses.fix_first_intro", lang)]
        lines += [""] + [x for c in parts.fix_first for x in _check_section(c, lang)]
    if parts.blocked:
        lines += [f"## {t('statuses.not_evaluated', lang)}", ""]
        lines += [x for g in parts.blocked for x in _blocked_section(g, lang)]
    if parts.errors:
        lines += [f"## {t('statuses.errors', lang)}", ""]
        lines += [x for c in parts.errors for x in _check_section(c, lang)]
    if parts.advice:
        lines += [f"## {t('statuses.advice', lang)}", "", t("statuses.advice_intro", lang), ""]
        lines += [x for c in parts.advice for x in _check_section(c, lang)]
    noted = [c for c in parts.passed if c.feedback]
    if noted:
        lines += [f"## {t('statuses.passed', lang)}", ""]
        lines += [x for c in noted for x in _check_section(c, lang)]
    return lines


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
    """``report.md``: score, a table of checks, what to fix first, the checks not evaluated
    grouped by cause, errors, advice, remarks, facts, logs."""
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
        shown = f"{ICONS[c.status]} {status_text(c, lang)}"
        lines.append(f"| `{c.id}` | {shown} | {c.score:g}/{c.max_score:g} |")
    lines.append("")
    lines += _sections(report)
    lines += _stages(report.facts, lang)
    lines += _facts(report.facts, lang)
    for key, text in (("build_log", report.build_log), ("container_log", report.container_log)):
        if text.strip():
            lines += [f"## {t(f'report.{key}', lang)}", "", block(tail_lines(text, 40)), ""]
    return "report.md", "\n".join(lines)

"""report.html: a self-contained page (no script, no network); all text escaped."""

from __future__ import annotations

from html import escape
from typing import Any

from grader.i18n import t
from grader.logcap import tail_lines
from grader.results import CheckResult, Status, SubmissionReport

STYLE = " ".join(
    [
        "body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}",
        "table{border-collapse:collapse;width:100%;margin:1rem 0}",
        "td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}",
        "pre{background:#f6f6f6;padding:.6rem;overflow:auto;white-space:pre-wrap}",
        ".passed{color:#1a7f37}.failed{color:#cf222e}.error{color:#9a6700}.skipped{color:#666}",
    ]
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _check_row(check: CheckResult, lang: str) -> str:
    fb = check.feedback
    parts = [f"<strong>{_e(fb.summary if fb else check.message)}</strong>"] if check.message else []
    if fb:
        for key, value in (("expected", fb.expected), ("found", fb.found), ("fix", fb.fix)):
            if value:
                parts.append(f"<br><em>{_e(t(f'report.{key}', lang))}</em>: {_e(value)}")
        if fb.evidence:
            parts.append(f"<pre>{_e(fb.evidence)}</pre>")
    status = check.status.value
    return (
        f'<tr><td><code>{_e(check.id)}</code></td><td class="{_e(status)}">{_e(status)}</td>'
        f"<td>{check.score:g}/{check.max_score:g}</td><td>{''.join(parts)}</td></tr>"
    )


def _facts(facts: dict[str, Any], lang: str) -> str:
    keys = ("size_mb", "user", "uid", "exposed_ports", "entrypoint", "cmd", "workdir", "listening")
    rows = [(k, facts[k]) for k in keys if facts.get(k) not in (None, "", [])]
    rows += [(f"label {k}", v) for k, v in (facts.get("labels") or {}).items()]
    if not rows:
        return ""
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<h2>{_e(t('report.image', lang))}</h2><table>{body}</table>"


def render(report: SubmissionReport) -> tuple[str, str]:
    """``report.html`` for one submission."""
    lang = report.lang
    head = f"<th>{_e(t('report.check', lang))}</th><th>{_e(t('report.status', lang))}</th>"
    head += f"<th>{_e(t('report.points', lang))}</th><th></th>"
    rows = "".join(_check_row(c, lang) for c in report.checks)
    notes = "".join(f"<p><em>{_e(n)}</em></p>" for n in report.notes)
    logs = ""
    for key, text in (("build_log", report.build_log), ("container_log", report.container_log)):
        if text.strip():
            logs += f"<h2>{_e(t(f'report.{key}', lang))}</h2><pre>{_e(tail_lines(text, 40))}</pre>"
    failed = sum(c.status in (Status.FAILED, Status.ERROR) for c in report.checks)
    page = (
        f'<!doctype html><html lang="{_e(lang)}"><head><meta charset="utf-8">'
        f"<title>{_e(report.submission)} — {_e(report.lab)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{_e(report.submission)} — {_e(report.lab)}</h1>"
        f"<p><strong>{_e(t('report.score', lang))}: {report.score:g} / {report.max_score:g}"
        f"</strong> ({failed} ✗)</p>{notes}<table><tr>{head}</tr>{rows}</table>"
        f"{_facts(report.facts, lang)}{logs}</body></html>\n"
    )
    return "report.html", page

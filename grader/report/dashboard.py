"""index.html: the class dashboard (sortable table, charts, regrade deltas, near-duplicates)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any
from urllib.parse import quote

from grader.facts.results import Status, SubmissionReport
from grader.i18n import t
from grader.intake.integrity import Fingerprint, Pair, similar_pairs
from grader.report.charts import Chart, columns, rows, short
from grader.report.layout import STOPS, stopped_at
from grader.report.regrade import Delta
from grader.report.templating import render as render_template

BUCKETS = 10
"""Score distribution: buckets of 10 % of the maximum."""
TOP_FAILED = 10
"""Most failed checks shown."""


@dataclass(frozen=True)
class Row:
    """One student's line of the class table."""

    report: SubmissionReport
    href: str
    """Relative link to the student's report.html."""
    student: str
    percent: float
    """Score over maximum, 0..100."""
    failed: tuple[str, ...]
    """Ids of the scored checks failed, and of the checks in error."""
    advice: tuple[str, ...]
    """Ids of the advice-only checks failed (worth no points)."""
    size_bytes: int | None
    delta: Delta | None


def report_href(name: str) -> str:
    """The link to a submission's report.html (names that are not UTF-8 keep their bytes)."""
    return quote(name.encode("utf-8", "surrogateescape"), safe="") + "/report.html"


def percent(report: SubmissionReport) -> float:
    """Score as a percentage of the maximum (0 when the lab has no points)."""
    return 100 * report.score / report.max_score if report.max_score else 0.0


def score_chart(reports: Sequence[SubmissionReport]) -> Chart:
    """How many submissions fall in each tenth of the maximum score."""
    counts = [0] * BUCKETS
    for r in reports:
        if r.max_score:
            counts[min(int(percent(r) // (100 / BUCKETS)), BUCKETS - 1)] += 1
    step = 100 // BUCKETS
    labels = [f"{i * step}–{i * step + step - 1}" for i in range(BUCKETS - 1)] + [
        f"{100 - step}–100"
    ]
    return columns(
        "chart-scores", [(f"{lb} %", n, str(n)) for lb, n in zip(labels, counts, strict=True)]
    )


def failed_chart(reports: Sequence[SubmissionReport]) -> Chart:
    """The scored checks most often failed, most failed first: ``failed`` only, so that a
    cascade (checks not run) or the grader's faults (errors) never hide the root causes."""
    counts = Counter(c.id for r in reports for c in r.checks if c.status is Status.FAILED)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FAILED]
    return rows("chart-failed", [(cid, n, str(n)) for cid, n in top])


def stopped_chart(reports: Sequence[SubmissionReport], lang: str) -> Chart:
    """How many submissions stopped at each step of the flow (no Dockerfile, build, start,
    HTTP) or went through every step; submissions whose step is in error are left out."""
    counts = Counter(stopped_at(r) for r in reports)
    items = [(t(f"statuses.stopped.{s}", lang), counts[s], str(counts[s])) for s in STOPS]
    return rows("chart-stopped", items)


def size_bytes(report: SubmissionReport) -> int | None:
    """The final image's size, when it was built."""
    size = report.facts.get("size_bytes")
    return int(size) if isinstance(size, int | float) and not isinstance(size, bool) else None


def size_chart(reports: Sequence[SubmissionReport]) -> Chart:
    """Every built image's size, largest first."""
    sizes = [(r.submission, s) for r in reports if (s := size_bytes(r)) is not None]
    sizes.sort(key=lambda item: (-item[1], item[0]))
    return rows("chart-sizes", [(name, s / 1e6, f"{s / 1e6:.0f} MB") for name, s in sizes])


def near_duplicates(reports: Sequence[SubmissionReport]) -> list[tuple[str, Pair]]:
    """(lab, pair) of the submissions whose own work is near-identical, lab by lab."""
    by_lab: dict[str, dict[str, Fingerprint]] = defaultdict(dict)
    for r in reports:
        fp = Fingerprint.from_dict(r.facts.get("fingerprint"))
        if fp is not None:
            by_lab[r.lab][r.submission] = fp
    return [(lab, p) for lab, prints in sorted(by_lab.items()) for p in similar_pairs(prints)]


def student_label(report: SubmissionReport) -> str:
    """The student's name, with their Moodle participant number when known."""
    name = str(report.facts.get("student") or "")
    moodle_id = str(report.facts.get("moodle_id") or "")
    return f"{name} (#{moodle_id})" if name and moodle_id else name


def class_rows(reports: Sequence[SubmissionReport], deltas: Sequence[Delta]) -> list[Row]:
    """One row per submission, in the reports' order."""
    by_name = {d.submission: d for d in deltas}
    return [
        Row(
            r,
            report_href(r.submission),
            student_label(r),
            round(percent(r), 1),
            tuple(c.id for c in r.checks if c.needs_work),
            tuple(c.id for c in r.checks if c.status is Status.ADVICE),
            size_bytes(r),
            by_name.get(r.submission),
        )
        for r in reports
    ]


def render(reports: Sequence[SubmissionReport], deltas: Sequence[Delta] = ()) -> tuple[str, str]:
    """``index.html`` for a class (``deltas``: the regrade's, shown when given)."""
    lang = reports[0].lang if reports else "en"
    scores = [r.score for r in reports]
    labs = sorted({r.lab for r in reports})
    context: dict[str, Any] = {
        "lang": lang,
        "labs": labs,
        "rows": class_rows(reports, deltas),
        "count": len(reports),
        "mean": round(sum(scores) / len(scores), 1) if scores else 0,
        "median": round(median(scores), 1) if scores else 0,
        "charts": [
            (t("dashboard.chart_scores", lang), score_chart(reports)),
            (t("statuses.stopped.title", lang), stopped_chart(reports, lang)),
            (t("dashboard.chart_failed", lang), failed_chart(reports)),
            (t("dashboard.chart_sizes", lang), size_chart(reports)),
        ],
        "short": short,
        "has_deltas": bool(deltas),
        "moved": [d for d in deltas if d.moved],
        "pairs": near_duplicates(reports),
    }
    return "index.html", render_template("index.html.j2", **context)

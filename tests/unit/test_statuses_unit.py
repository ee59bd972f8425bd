"""Statuses (issue 16): not_run with blocked_by, advice, and every status in every output format."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
from junitparser import Error, Failure, JUnitXml, Skipped

from grader.cli.progress import graded_line
from grader.errors import (
    BuildFailed,
    ContextRejected,
    EngineError,
    NeverReady,
    NotDeclared,
    SubmissionRejected,
    SubmissionTimedOut,
)
from grader.facts.results import (
    SCHEMA_VERSION,
    CheckResult,
    Feedback,
    Status,
    SubmissionReport,
    assemble,
)
from grader.grading.verdicts import rejected_report, result, stage_verdict
from grader.labs.spec import load_lab
from grader.report import (
    dashboard,
    gradebook,
    gradescope,
    html,
    json_report,
    junit,
    markdown,
    prairielearn,
    summary_csv,
)
from grader.report.layout import Blocked, layout, stopped_at

SCHEMAS = Path(__file__).parent / "schemas"
BUILD_FB = Feedback(summary="Not run: the image does not build.", found="COPY failed", fix="x")


def every_status(name: str = "alice") -> list[CheckResult]:
    """One check of each status, the cascade of one broken build among them."""
    failed_fb = Feedback(summary="The image does not build.", found="COPY failed", fix="Fix COPY.")
    return [
        result("dockerfile.present", Status.PASSED, 1.0, None),
        result("build.succeeds", Status.FAILED, 2.0, failed_fb),
        result("run.starts", Status.NOT_RUN, 2.0, BUILD_FB, blocked_by="build.succeeds"),
        result("http.root_text", Status.NOT_RUN, 1.0, BUILD_FB, blocked_by="build.succeeds"),
        result("image.healthcheck", Status.FAILED, 0.0, Feedback(summary="No HEALTHCHECK.")),
        result("registry.pushed", Status.ERROR, 1.0, Feedback(summary="down"), cause="registry"),
    ]


def report(name: str = "alice") -> SubmissionReport:
    return assemble(name, "tp6", every_status(name), lang="en")


# -- the verdicts ---------------------------------------------------------------------------


def test_advice_not_followed_is_advice_never_failed() -> None:
    checks = every_status()
    assert [c.status for c in checks] == [
        Status.PASSED,
        Status.FAILED,
        Status.NOT_RUN,
        Status.NOT_RUN,
        Status.ADVICE,
        Status.ERROR,
    ]
    assert [c.blocked_by for c in checks] == ["", "", "build.succeeds", "build.succeeds", "", ""]
    assert [c.score for c in checks] == [1.0, 0, 0, 0, 0, 0]
    assert checks[5].cause == "registry" and checks[2].cause == ""


def test_blocked_by_is_kept_for_checks_not_run_only() -> None:
    passed = result("run.starts", Status.PASSED, 2.0, None, blocked_by="build.succeeds")
    assert passed.blocked_by == "" and "blocked_by" not in passed.to_dict()
    not_run = result("run.starts", Status.NOT_RUN, 2.0, None, blocked_by="build.succeeds")
    assert not_run.to_dict()["blocked_by"] == "build.succeeds"
    assert CheckResult.from_dict(not_run.to_dict()) == not_run


def test_a_build_failure_fails_its_check_and_blocks_the_others() -> None:
    exc = BuildFailed("COPY failed", "log", "COPY a b /app", 14)
    assert stage_verdict("build.succeeds", exc, "en")[0] is Status.FAILED
    status, fb, blocker = stage_verdict("image.user_non_root", exc, "en")
    assert (status, blocker) == (Status.NOT_RUN, "build.succeeds")
    assert fb.summary == "Not run: the image does not build."


def test_no_http_answer_is_the_root_status_check_s_own_failure() -> None:
    exc = NeverReady(30.0, 8000, (), "log")
    status, fb, blocker = stage_verdict("http.root_status", exc, "en")
    assert (status, blocker) == (Status.FAILED, "")
    assert fb.summary == "Nothing listens in the container after 30 s."  # no "Not run:"
    assert stage_verdict("http.root_text", exc, "en")[::2] == (Status.NOT_RUN, "http.root_status")
    status, fb, _ = stage_verdict("registry.pushed", NotDeclared("no submission.toml"), "fr")
    assert status is Status.FAILED and not fb.summary.startswith("Non évalué")


def test_a_build_context_too_large_is_the_build_s_failure_not_the_dockerfile_s() -> None:
    exc = ContextRejected("the build context is 3 MB, more than the 1 MB allowed")
    status, fb, _ = stage_verdict("build.succeeds", exc, "en")
    assert status is Status.FAILED and fb.summary.startswith("The submission cannot be graded")
    assert stage_verdict("run.starts", exc, "en")[::2] == (Status.NOT_RUN, "build.succeeds")
    unreadable = SubmissionRejected("Dockerfile is a binary file")
    assert stage_verdict("build.succeeds", unreadable, "en")[::2] == (
        Status.NOT_RUN,
        "dockerfile.present",
    )


def test_machine_faults_stay_errors_and_time_bounds_block_without_a_check() -> None:
    assert stage_verdict("run.starts", EngineError("500"), "en")[::2] == (Status.ERROR, "")
    timed = stage_verdict("run.starts", SubmissionTimedOut(900.0), "en")
    assert (timed[0], timed[2]) == (Status.NOT_RUN, "")


def test_a_rejected_submission_fails_one_check_and_blocks_the_rest() -> None:
    rep = rejected_report("eve", load_lab("tp6"), SubmissionRejected("unsafe archive"))
    statuses = {c.id: (c.status, c.blocked_by) for c in rep.checks}
    assert statuses.pop("dockerfile.present") == (Status.FAILED, "")
    assert set(statuses.values()) == {(Status.NOT_RUN, "dockerfile.present")}


# -- the reading order ----------------------------------------------------------------------


def test_layout_puts_the_root_cause_first_and_groups_the_cascade_once() -> None:
    later = result("http.root_text", Status.FAILED, 1.0, Feedback(summary="wrong text"))
    rep = assemble("a", "tp6", [later, *every_status()], lang="en")
    parts = layout(rep)
    assert [c.id for c in parts.fix_first] == ["build.succeeds", "http.root_text"]
    (group,) = parts.blocked
    assert group.blocker == "build.succeeds" and len(group.checks) == 2 and group.points == 3
    assert group.heading("en") == (
        "Not evaluated because the image does not build: 2 checks, 3 points"
    )
    assert group.heading("fr") == (
        "Non évalué, car l'image ne se construit pas : 2 vérifications, 3 points"
    )
    one = Blocked("registry.pushed", (every_status()[3],), None)
    assert (
        one.heading("en") == "Not evaluated because no pushed image is declared: 1 check, 1 point"
    )
    assert [c.id for c in parts.advice] == ["image.healthcheck"]
    assert [c.id for c in parts.errors] == ["registry.pushed"]


def test_where_a_submission_stopped() -> None:
    def rep(*checks: tuple[str, Status, str]) -> SubmissionReport:
        made = [CheckResult(i, s, 0, 1, "", blocked_by=b) for i, s, b in checks]
        return assemble("a", "tp6", made)

    p, f, n, e = Status.PASSED, Status.FAILED, Status.NOT_RUN, Status.ERROR
    assert stopped_at(rep(("dockerfile.present", f, ""), ("build.succeeds", n, "x"))) == (
        "no_dockerfile"
    )
    assert stopped_at(rep(("build.succeeds", f, ""), ("run.starts", n, "build.succeeds"))) == (
        "build"
    )
    assert stopped_at(rep(("build.succeeds", p, ""), ("run.starts", f, ""))) == "start"
    # run.starts passes (the container runs) but nothing answers: stopped at HTTP
    assert stopped_at(rep(("run.starts", p, ""), ("http.root_status", f, ""))) == "http"
    assert stopped_at(rep(("run.starts", p, ""), ("http.root_text", f, ""))) == "all_passed"
    assert stopped_at(rep(("build.succeeds", e, ""), ("run.starts", n, ""))) is None


# -- every status in every output format ----------------------------------------------------


def test_report_json_carries_every_status_and_its_schema_version() -> None:
    _, text = json_report.render(report())
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION == 2
    got = {c["id"]: (c["status"], c.get("blocked_by"), c.get("cause")) for c in data["checks"]}
    assert got == {
        "dockerfile.present": ("passed", None, None),
        "build.succeeds": ("failed", None, None),
        "run.starts": ("not_run", "build.succeeds", None),
        "http.root_text": ("not_run", "build.succeeds", None),
        "image.healthcheck": ("advice", None, None),
        "registry.pushed": ("error", None, "registry"),
    }


def test_report_md_shows_each_status_and_the_cascade_once() -> None:
    _, text = markdown.render(report())
    for row in (
        "| `dockerfile.present` | ✅ passed | 1/1 |",
        "| `build.succeeds` | ❌ failed | 0/2 |",
        "| `run.starts` | ➖ not run (blocked by build.succeeds) | 0/2 |",
        "| `image.healthcheck` | 💡 advice not followed (no points) | 0/0 |",
        "| `registry.pushed` | ⚠️ error (not your fault) | 0/1 |",
    ):
        assert row in text
    assert text.count("Not evaluated because the image does not build: 2 checks, 3 points") == 1
    assert text.count("Not run: the image does not build.") == 1  # not once per check
    order = [text.index(h) for h in ("## Fix first", "## Not evaluated", "## Advice (no points)")]
    assert order == sorted(order)


def test_report_html_shows_each_status_and_advice_without_red() -> None:
    _, page = html.render(report())
    for check, status in (
        ("build.succeeds", "failed"),
        ("run.starts", "not_run"),
        ("image.healthcheck", "advice"),
        ("registry.pushed", "error"),
    ):
        assert f'data-check="{check}" data-status="{status}"' in page
    assert 'data-blocked-by="build.succeeds"' in page
    assert page.count("Not evaluated because the image does not build") == 1
    assert page.count("Not run: the image does not build.") == 1
    assert '<td class="advice">advice not followed (no points)</td>' in page
    assert (
        page.index('id="fix-first"') < page.index('id="not-evaluated"') < page.index('id="advice"')
    )


def test_junit_skips_checks_not_run_and_advice_with_the_reason() -> None:
    (suite,) = list(JUnitXml.fromstring(junit.render(report())[1]))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 1, 1, 3)
    cases = {case.name: case for case in suite}
    assert isinstance(cases["build.succeeds"].result[0], Failure)
    assert isinstance(cases["registry.pushed"].result[0], Error)
    (skip,) = cases["run.starts"].result
    assert isinstance(skip, Skipped)
    assert skip.message == "not run (blocked by build.succeeds): Not run: the image does not build."
    (advice,) = cases["image.healthcheck"].result
    assert advice.message == "advice not followed (no points): No HEALTHCHECK."
    assert cases["dockerfile.present"].is_passed


def test_gradescope_reads_advice_as_passed_and_not_run_as_failed_with_why() -> None:
    data = json.loads(gradescope.render(report())[1])
    jsonschema.validate(data, json.loads((SCHEMAS / "gradescope-results.json").read_text()))
    tests = {t["name"]: t for t in data["tests"]}
    assert {n: (t["status"], t["tags"]) for n, t in tests.items()} == {
        "dockerfile.present": ("passed", ["passed"]),
        "build.succeeds": ("failed", ["failed"]),
        "run.starts": ("failed", ["not_run"]),
        "http.root_text": ("failed", ["not_run"]),
        "image.healthcheck": ("passed", ["advice"]),
        "registry.pushed": ("failed", ["error"]),
    }
    assert tests["run.starts"]["output"].startswith("[not run (blocked by build.succeeds)]\n")
    assert tests["image.healthcheck"]["output"].startswith("[advice not followed (no points)]")
    assert tests["image.healthcheck"]["max_score"] == 0


def test_prairielearn_names_each_status() -> None:
    data = json.loads(prairielearn.render(report())[1])
    jsonschema.validate(data, json.loads((SCHEMAS / "prairielearn-results.json").read_text()))
    assert [t["message"] for t in data["tests"]] == [
        "passed",
        "failed",
        "not_run",
        "not_run",
        "advice",
        "error",
    ]
    assert "run.starts: not_run (build.succeeds)" in data["output"].splitlines()


def test_class_outputs_carry_every_status_and_count_failed_only() -> None:
    reports = [report("alice"), report("bob")]
    rows = list(csv.DictReader(summary_csv.render(reports)[1].splitlines()))
    assert [rows[0][c.id] for c in every_status()] == [
        "passed",
        "failed",
        "not_run",
        "not_run",
        "advice",
        "error",
    ]
    book = list(csv.DictReader(gradebook.render(reports)[1].splitlines()))
    assert [(r["submission"], r["score"], r["max_score"]) for r in book] == [
        ("alice", "1", "7"),
        ("bob", "1", "7"),
    ]
    summary = gradebook.render_summary(reports)[1]
    assert "| alice | tp6 | 1/7 | `build.succeeds`, ⚠️ `registry.pushed` | 2 |" in summary
    assert summary.endswith("### most failed checks\n\n- `build.succeeds`: 2\n")
    chart = dashboard.failed_chart(reports)
    assert [(b.label, b.value) for b in chart.bars] == [("build.succeeds", 2)]
    (row, _) = dashboard.class_rows(reports, [])
    assert row.advice == ("image.healthcheck",)


def test_the_dashboard_charts_where_each_submission_stopped() -> None:
    ok = assemble("ok", "tp6", [CheckResult("build.succeeds", Status.PASSED, 1, 1, "")])
    reports = [report("alice"), report("bob"), ok]
    chart = dashboard.stopped_chart(reports, "en")
    assert [(b.label, b.value) for b in chart.bars] == [
        ("no Dockerfile", 0),
        ("build", 2),
        ("start", 0),
        ("HTTP", 0),
        ("every step passed", 1),
    ]
    page = dashboard.render(reports)[1]
    assert 'id="chart-stopped"' in page and "Where each submission stopped" in page


def test_the_terminal_line_lists_each_status_apart() -> None:
    from grader.classrun.batch import Graded

    line = graded_line(Graded(report(), 1.0, Path("r/alice")))  # type: ignore[arg-type]
    assert line.split("(1.0 s)")[1].split() == [
        "failed:",
        "build.succeeds",
        "error:",
        "registry.pushed",
        "not",
        "run:",
        "run.starts,",
        "http.root_text",
        "advice:",
        "image.healthcheck",
    ]

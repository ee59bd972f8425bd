"""``GradingSession``: the one reporter of a pytest run; turns check outcomes into reports.

It is a pytest plugin object: it deselects the checks a submission's lab does not use, turns
each test outcome into a ``CheckResult`` (stage failures become "not run" with the reason,
never dropped) and assembles one ``SubmissionReport`` per submission at the end.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import pytest

from grader import __version__
from grader.engine import Engine
from grader.errors import GraderError, StageFailed, SubmissionError
from grader.facts import Submission
from grader.facts.results import CheckResult, Feedback, Status, SubmissionReport, assemble
from grader.grading.pipeline import Pipeline
from grader.grading.rubric import FEEDBACK_KEY, STATED_KEY
from grader.grading.settings import Options
from grader.grading.verdicts import describe, error_cause, feedback_for, result, stage_verdict
from grader.i18n import t
from grader.intake.integrity import fingerprint
from grader.intake.submission import declared_identity
from grader.labs.spec import LabSpec

log = logging.getLogger(__name__)


@dataclass
class BeingGraded:
    """What the session knows about one submission while its checks run."""

    submission: Submission
    lab: LabSpec
    pipeline: Pipeline
    results: dict[str, CheckResult] = field(default_factory=dict)
    tracebacks: list[str] = field(default_factory=list)


def summary_of(check: CheckResult) -> str:
    """A check's verdict in one line."""
    first = check.message.splitlines()[0] if check.message else ""
    return check.feedback.summary if check.feedback and check.feedback.summary else first


def skip_reason(check: CheckResult) -> str:
    """Why a check reads as skipped in pytest: advice not followed, or what stopped it."""
    if check.status is Status.ADVICE:
        return f"advice (no points): {summary_of(check)}"
    blocked = f" (blocked by {check.blocked_by})" if check.blocked_by else ""
    return f"not run{blocked}: {summary_of(check)}"


def stated_verdict(check: CheckResult, lang: str) -> CheckResult:
    """A verdict judged from the Dockerfile (the image did not build), saying so."""
    said = t("statuses.judged_from_dockerfile", lang)
    fb = check.feedback or Feedback(summary="")
    fb = dataclasses.replace(fb, summary=f"{fb.summary} ({said})" if fb.summary else said)
    return dataclasses.replace(check, feedback=fb, message=fb.as_text())


def check_id_of(item: pytest.Item) -> str | None:
    """The rubric check id of a test item (its ``check`` marker)."""
    marker = item.get_closest_marker("check")
    return str(marker.args[0]) if marker and marker.args else None


def submission_of(item: pytest.Item) -> Submission | None:
    """The submission a test item grades."""
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get("submission") if callspec else None
    return value if isinstance(value, Submission) else None


class GradingSession:
    """Grades submissions through the rubric; one instance per pytest run."""

    def __init__(
        self,
        submissions: list[tuple[Submission, LabSpec]],
        options: Options,
        engine: Callable[[], Engine],
        labels: dict[str, str],
        remove_images: bool = True,
        prepared: Mapping[str, Pipeline] | None = None,
    ) -> None:
        ready = prepared or {}  # pipelines whose stages a batch worker already ran
        self.graded = {
            s.name: BeingGraded(
                s, lab, ready.get(s.name) or Pipeline(s, lab, engine, labels, options)
            )
            for s, lab in submissions
        }
        self.own = [g.pipeline for g in self.graded.values() if g.submission.name not in ready]
        """The pipelines this session made (not a batch's): released before it ends."""
        self.options = options
        self.remove_images = remove_images
        self.reports: list[SubmissionReport] = []

    @property
    def submissions(self) -> list[Submission]:
        """The submissions, in grading order."""
        return [g.submission for g in self.graded.values()]

    def pipeline(self, submission: Submission) -> Pipeline:
        """The pipeline of one submission."""
        return self.graded[submission.name].pipeline

    # -- pytest hooks ---------------------------------------------------------------------------

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Keep, for each submission, only the checks its lab uses."""
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            sub, check_id = submission_of(item), check_id_of(item)
            lab = self.graded[sub.name].lab if sub else None
            (keep if lab and check_id and lab.check(check_id) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Record each check's verdict; show feedback instead of a traceback."""
        report = yield
        sub, check_id = submission_of(item), check_id_of(item)
        if sub is None or check_id is None:
            return report
        graded = self.graded[sub.name]
        spec = graded.lab.check(check_id)
        max_score = spec.max_score if spec else 0.0
        if report.when == "call" or (report.when == "setup" and not report.passed):
            verdict = self._verdict(item, call, report, graded, max_score, check_id)
            if item.stash.get(STATED_KEY, False):
                verdict = stated_verdict(verdict, graded.pipeline.options.lang)
            graded.results[check_id] = verdict
            if verdict.status in (Status.ADVICE, Status.NOT_RUN):
                # advice not followed is shown, worth no points, and never fails a student's
                # own pytest run (or CI job); a check not run is not an error at setup: both
                # read as a skip with the advice, or what stopped the check, as its reason
                report.outcome = "skipped"
                path, line = str(item.path), item.location[1] or 0
                report.longrepr = (path, line, skip_reason(verdict))
            elif verdict.status is not Status.PASSED:
                report.longrepr = verdict.message
        return report

    def _verdict(
        self,
        item: pytest.Item,
        call: pytest.CallInfo[None],
        report: pytest.TestReport,
        graded: BeingGraded,
        max_score: float,
        check_id: str,
    ) -> CheckResult:
        note = item.stash.get(FEEDBACK_KEY, None)
        if report.skipped:  # no check skips itself today; a skip is "not run", with its reason
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            return result(check_id, Status.NOT_RUN, max_score, note or Feedback(str(reason)))
        if report.passed:
            return result(check_id, Status.PASSED, max_score, note)
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, pytest.fail.Exception) and note is not None:
            return result(check_id, Status.FAILED, max_score, note)
        if not isinstance(exc, GraderError) and call.excinfo is not None:
            graded.tracebacks.append(f"{check_id}:\n{call.excinfo.getrepr(style='long')}")
        bug = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
        status, fb, blocker = stage_verdict(check_id, bug, graded.pipeline.options.lang)
        return result(check_id, status, max_score, fb, error_cause(bug), blocker)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Assemble one report per submission; remove the images this run built."""
        for graded in self.graded.values():
            self.reports.append(self.assemble(graded))
        if self.remove_images:
            for graded in self.graded.values():
                for image_id in graded.pipeline.built_image_ids():
                    graded.pipeline.engine.remove_image(image_id)
        for pipeline in self.own:  # a batch's pipelines: its run waits for their releases
            pipeline.wait_released()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Close a self-check with each submission's score and the advice it did not follow."""
        for report in self.reports:
            to_fix = sum(c.needs_work for c in report.checks)
            advice = [c for c in report.checks if c.status is Status.ADVICE]
            for check in advice:
                terminalreporter.write_line(f"advice {check.id}: {check.message}")
            line = f"{report.submission} ({report.lab}): {report.score:g}/{report.max_score:g}"
            line += f", {to_fix} check(s) to fix" + (f", {len(advice)} advice" if advice else "")
            terminalreporter.write_sep("=", line, bold=True)

    # -- reports --------------------------------------------------------------------------------

    def finish(self, submission: Submission) -> None:
        """Close one submission's pipeline (container removed, its log kept)."""
        self.graded[submission.name].pipeline.close()

    def assemble(self, graded: BeingGraded) -> SubmissionReport:
        """The report of one submission; a check that never ran is an error, never dropped."""
        pipeline = graded.pipeline
        checks = []
        for spec in graded.lab.checks:
            found = graded.results.get(spec.id)
            if found is None:
                lang = pipeline.options.lang
                fb = feedback_for("error.not_run", lang, check=spec.id)
                found = result(spec.id, Status.ERROR, spec.max_score, fb)
            checks.append(masked_check(found, pipeline.mask))
        return assemble(
            graded.submission.name,
            graded.lab.id,
            checks,
            lang=pipeline.options.lang,
            grader_version=__version__,
            notes=(
                *(graded.tracebacks and ["grader error: see grader.log"]),
                *pipeline.notes(),
            ),
            facts=masked(facts_summary(pipeline), pipeline.mask),
            build_log=build_log(pipeline),
            container_log=pipeline.mask(pipeline.container_log),
        )

    def tracebacks(self, name: str) -> list[str]:
        """Grader tracebacks of one submission (for grader.log, never shown to students)."""
        return self.graded[name].tracebacks


def _peek(pipeline: Pipeline, name: str) -> Any:
    """A stage's value if it ran and succeeded, else None (never runs it)."""
    if not pipeline.done(name):
        return None
    try:
        return getattr(pipeline, name)
    except (SubmissionError, GraderError):
        return None


def build_log(pipeline: Pipeline) -> str:
    """The build output, whether the build succeeded or failed."""
    if not pipeline.done("build"):
        return ""
    try:
        return pipeline.build.log
    except StageFailed as exc:
        return str(getattr(exc, "log", ""))
    except GraderError:
        return ""


def masked(value: Any, mask: Callable[[str], str]) -> Any:
    """``value`` with ``mask`` applied to every string in it (dicts, lists, tuples walked):
    the layer table, the rebuild's steps and the waste offenders quote Dockerfile lines, and no
    secret's value may reach a report through any of them."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: masked(v, mask) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(masked(v, mask) for v in value)
    return value


def masked_check(check: CheckResult, mask: Callable[[str], str]) -> CheckResult:
    """A check's verdict with ``mask`` applied to its message and every feedback field."""
    fb = check.feedback
    if fb is not None:
        fb = dataclasses.replace(fb, **{f.name: mask(getattr(fb, f.name)) for f in fields(fb)})
    return dataclasses.replace(check, message=mask(check.message), feedback=fb)


def facts_summary(pipeline: Pipeline) -> dict[str, Any]:
    """Facts worth showing in a report, from the stages that ran."""
    facts: dict[str, Any] = {}
    sub = pipeline.submission
    if sub.dockerfile is not None:
        facts["dockerfile"] = sub.dockerfile.name
    facts.update(declared_identity(sub.root))
    if df := _peek(pipeline, "dockerfile"):
        facts["stages"] = [
            {
                "index": s.index,
                "name": s.name,
                "base": s.base,
                "runs": [i.value for i in s.instructions if i.keyword == "RUN"],
            }
            for s in df.stages
        ]
        facts["dockerfile_bom"], facts["dockerfile_crlf"] = df.had_bom, df.had_crlf
    if built := _peek(pipeline, "build"):
        facts["build_seconds"] = round(built.seconds, 2)
    if pipeline.builder is not None:  # chosen: the build was sent, or refused by its builder
        facts["builder"] = pipeline.builder
    if image := _peek(pipeline, "image"):
        facts.update(
            image_id=image.image_id,
            size_bytes=image.size,
            size_mb=round(image.size / 1e6, 1),
            layers=image.layers,
            user=image.user,
            uid=image.uid,
            exposed_ports=sorted(image.exposed_ports),
            entrypoint=list(image.entrypoint or []),
            cmd=list(image.cmd or []),
            workdir=image.workdir,
            labels=image.labels,
        )
    if started := _peek(pipeline, "start"):
        facts.update(ready=started.ready, start_seconds=round(started.seconds, 2))
        if started.exit_status is not None:
            facts["exit_status"] = started.exit_status
    if sizes := _peek(pipeline, "sizes"):
        facts.update(
            single_stage_bytes=sizes.single_bytes,
            single_stage_source=sizes.single_source,
            saving_bytes=sizes.saving_bytes,
            saving_percent=None if sizes.saving_percent is None else round(sizes.saving_percent, 1),
        )
    if dev := _peek(pipeline, "dev_packages"):
        facts.update(dev_dependencies_present=list(dev.present), dev_checked_with=dev.method)
    if rt := _peek(pipeline, "runtime"):
        facts.update(process_uid=rt.process_uid, listening=describe(rt.listening))
    given = pipeline.lab.integrity  # near-duplicate signal: compared on the class dashboard
    facts["fingerprint"] = fingerprint(sub.root, given.given_files, given.dockerfile_template)
    if lint := _peek(pipeline, "lint"):  # static diagnoses (issue 7)
        facts["lint"] = [{"rule": f.rule, "level": f.level, "line": f.line} for f in lint.findings]
    if context := _peek(pipeline, "context"):
        facts.update(context_bytes=context.total_bytes, context_files=context.files)
        facts["context_largest"] = [[e.path, e.bytes] for e in context.top[:5]]
    facts.update(diagnosis_facts(pipeline))
    return facts


def diagnosis_facts(pipeline: Pipeline) -> dict[str, Any]:
    """The layer table, wasted bytes, layer-cache rebuild and stop time, when measured."""
    facts: dict[str, Any] = {}
    if waste := _peek(pipeline, "waste"):
        facts["layer_table"] = [
            {"instruction": r.instruction, "size_bytes": r.size_bytes, "base": r.base}
            for r in waste.layers
        ]
        facts["waste"] = {
            "scope": waste.scope,
            "analysed": waste.analysed,
            "added_bytes": waste.added_bytes,
            "wasted_bytes": waste.wasted_bytes,
            "cache_bytes": waste.cache_bytes,
            "build_tool_bytes": waste.tool_bytes,
            "efficiency": round(waste.efficiency, 3),
            "method": waste.method,
            "top_offenders": [
                {
                    "path": o.path,
                    "size_bytes": o.size_bytes,
                    "kind": o.kind,
                    "instruction": o.instruction,
                }
                for o in waste.offenders
            ],
        }
    if cache := _peek(pipeline, "layer_cache"):
        facts["layer_cache"] = {
            "changed_file": cache.changed_file,
            "rebuild_seconds": round(cache.seconds, 2),
            "steps": [
                {
                    "line": s.line,
                    "instruction": s.instruction,
                    "cached": s.cached,
                    "seconds": round(s.seconds, 2),
                    "installs": s.installs,
                }
                for s in cache.steps
            ],
        }
    if stop := _peek(pipeline, "stop"):
        facts["stop"] = {
            "seconds": round(stop.seconds, 2),
            "grace_s": stop.grace_s,
            "exit_status": stop.exit_status,
            "killed": stop.killed,
            "pid1": stop.pid1,
            "outcome": stop.outcome,
        }
    return facts

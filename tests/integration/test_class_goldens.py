"""`grade submissions/` builds and runs every bundled submission; each gets its exact verdicts."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path
from typing import Any

import pytest

GOLDENS = Path(__file__).parent / "goldens"
"""One file per lab: submission -> {check id -> status}."""
pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def _check(report: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["id"] == check_id)


def test_grade_exits_zero_and_prints_a_line_per_submission(graded_class: dict[str, Any]) -> None:
    proc = graded_class["proc"]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    subs = sorted(p.name for p in graded_class["class"].iterdir() if p.is_dir())
    for name in subs:
        assert any(line.startswith(name + " ") for line in proc.stdout.splitlines()), name


def test_every_submission_matches_its_golden_verdicts(
    graded_class: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    reports = graded_class["reports"]
    labs = sorted({r["lab"] for r in reports.values()})
    assert labs == ["tp6", "tp6bis"]
    for lab in labs:
        actual = {n: _statuses(r) for n, r in reports.items() if r["lab"] == lab}
        path = GOLDENS / f"{lab}.toml"
        if request.config.getoption("--update-goldens"):
            lines = [f"# Expected verdict of every check for every bundled {lab} submission.", ""]
            for name, statuses in actual.items():
                lines.append(f'["{name}"]')
                lines += [f'"{cid}" = "{status}"' for cid, status in statuses.items()]
                lines.append("")
            path.write_text("\n".join(lines), encoding="utf-8")
        expected = tomllib.loads(path.read_text(encoding="utf-8"))
        assert set(actual) == set(expected), lab
        for name, statuses in expected.items():
            assert actual[name] == statuses, name


def test_scores_and_report_schema(graded_class: dict[str, Any]) -> None:
    for name, report in graded_class["reports"].items():
        assert {"submission", "lab", "score", "max_score", "checks"} <= set(report), name
        assert report["max_score"] == {"tp6": 20, "tp6bis": 22}[report["lab"]]
        earned = sum(c["score"] for c in report["checks"])
        assert report["score"] == earned
        for c in report["checks"]:
            assert {"id", "status", "score", "max_score", "message"} <= set(c)
            assert c["status"] in ("passed", "failed", "not_run", "advice", "error")
            # a check not run names the check that stopped it (no time bound is hit here)
            assert (c["status"] == "not_run") == bool(c.get("blocked_by")), (name, c["id"])
            if c["max_score"] == 0:
                assert c["status"] != "failed"  # advice is never a failure
            if c["max_score"] > 0:
                assert (c["score"] == c["max_score"]) == (c["status"] == "passed")
            else:  # an advice check: shown, never scored
                assert c["score"] == 0
            if c["status"] != "passed":
                assert c["message"].strip(), (name, c["id"])
    assert graded_class["reports"]["tp6-ok"]["score"] == 20


def test_every_submission_has_its_files_and_the_summary_csv(graded_class: dict[str, Any]) -> None:
    out: Path = graded_class["out"]
    for name in graded_class["reports"]:
        for filename in (
            "report.json",
            "report.md",
            "report.html",
            "junit.xml",
            "gradescope.json",
            "prairielearn.json",
            "build.log",
            "container.log",
        ):
            assert (out / name / filename).is_file(), (name, filename)
    rows = list(csv.DictReader((out / "summary.csv").read_text(encoding="utf-8").splitlines()))
    assert [r["submission"] for r in rows] == sorted(graded_class["reports"])
    book = list(csv.DictReader((out / "gradebook.csv").read_text(encoding="utf-8").splitlines()))
    declared = next(r for r in book if r["submission"] == "tp6bis-ok")
    assert declared["student"] == "Martin Camille" and declared["score"] == "22"
    assert "tp6-wrong-text" in (out / "summary.md").read_text(encoding="utf-8")
    ok = next(r for r in rows if r["submission"] == "tp6-ok")
    assert ok["score"] == "20" and ok["http.root_text"] == "passed"


def test_nothing_is_left_behind(graded_class: dict[str, Any]) -> None:
    containers, images = graded_class["leftovers"]
    assert containers == [] and images == []


def test_not_run_checks_say_why(graded_class: dict[str, Any]) -> None:
    reports = graded_class["reports"]
    no_df = _check(reports["tp6-no-dockerfile"], "http.root_text")
    assert no_df["status"] == "not_run" and "Dockerfile" in no_df["message"]
    assert no_df["blocked_by"] == "dockerfile.present"
    syntax = _check(reports["tp6-syntax-error"], "run.starts")
    assert syntax["status"] == "not_run" and "COPPY" in syntax["message"]
    assert syntax["blocked_by"] == "build.succeeds"


def test_feedback_of_the_classic_mistakes(graded_class: dict[str, Any]) -> None:
    r = graded_class["reports"]
    loop = _check(r["tp6-binds-loopback"], "http.root_status")["message"]
    assert "127.0.0.1:8000" in loop and "0.0.0.0:8000" in loop
    port = _check(r["tp6-wrong-port"], "http.root_text")["message"]
    assert "5000" in port and "8000" in port
    crash = _check(r["tp6-pins-2018"], "run.starts")
    assert "ImportError" in crash["feedback"]["found"]
    assert "ImportError" in r["tp6-pins-2018"]["container_log"]
    build = _check(r["tp6-syntax-error"], "build.succeeds")["feedback"]
    assert "line 14" in build["found"] and "COPPY" in build["found"]
    shell = _check(r["tp6-shell-form-entrypoint"], "image.entrypoint_exec_form")["feedback"]
    assert shell["expected"] == 'ENTRYPOINT ["gunicorn", "--config", "config.py", "app:app"]'
    label = _check(r["tp6-placeholder-label"], "dockerfile.label_maintainer")["feedback"]
    assert label["found"] == "<Nom> <Prénom>"
    order = _check(r["tp6-code-before-deps"], "dockerfile.requirements_first")["feedback"]
    assert "COPY . ." in order["evidence"] and "pip install" in order["evidence"]
    text = _check(r["tp6-wrong-text"], "http.root_text")["feedback"]
    assert text["found"] == '"Hello World!"'


def test_facts_observed_on_the_real_image_and_process(graded_class: dict[str, Any]) -> None:
    r = graded_class["reports"]
    ok, root = r["tp6-ok"]["facts"], r["tp6-root-user"]["facts"]
    assert ok["uid"] == 1000 and ok["process_uid"] == 1000
    assert ok["listening"] == "0.0.0.0:8000"
    assert ok["entrypoint"] == ["gunicorn"] and ok["cmd"] == ["--config", "config.py", "app:app"]
    assert ok["workdir"] == "/app" and ok["size_bytes"] > 0
    assert root["uid"] == 0 and root["process_uid"] == 0
    assert "root" in _check(r["tp6-root-user"], "image.user_non_root")["message"]


def test_dockerfile_quirks_docker_accepts_are_graded_like_any_other(
    graded_class: dict[str, Any],
) -> None:
    r = graded_class["reports"]
    windows = r["tp6-windows-dockerfile"]
    assert windows["facts"]["dockerfile_bom"] and windows["facts"]["dockerfile_crlf"]
    assert windows["score"] == 20
    renamed = _check(r["tp6-renamed-dockerfile"], "dockerfile.present")
    assert renamed["status"] == "passed" and "dockerfile" in renamed["message"]


def test_tp6bis_feedback_and_facts(graded_class: dict[str, Any]) -> None:
    r = graded_class["reports"]
    expose = _check(r["tp6bis-no-expose"], "image.exposed_port")["feedback"]
    assert "3000" in expose["summary"] and "EXPOSE" in expose["found"]
    assert _check(r["tp6bis-no-expose"], "http.root_text")["status"] == "passed"  # port found
    cosmetic = _check(r["tp6bis-cosmetic-multistage"], "dockerfile.stages")["feedback"]
    assert "COPY --from=build /app ." in cosmetic["evidence"]
    dev = _check(r["tp6bis-cosmetic-multistage"], "image.no_dev_dependencies")["feedback"]
    assert dev["found"].startswith("mocha")
    assert dev["evidence"] == "/app/node_modules/mocha/package.json"  # the file found
    assert r["tp6bis-cosmetic-multistage"]["facts"]["dev_checked_with"] == "host"
    ok = r["tp6bis-ok"]["facts"]
    assert ok["dev_checked_with"] == "host" and ok["dev_dependencies_present"] == []
    assert ok["single_stage_bytes"] > ok["size_bytes"] > 0
    assert [s["name"] for s in ok["stages"]] == ["build", None]
    assert ok["stages"][0]["runs"] == ["npm ci", "npm test"]
    size = _check(r["tp6bis-ok"], "image.size")["feedback"]
    assert "MB" not in size["summary"] and "Mo" in size["summary"]  # French by default
    crash = _check(r["tp6bis-crash-at-start"], "run.starts")["feedback"]
    assert "Cannot find module" in crash["found"]
    assert r["tp6bis-crash-at-start"]["facts"]["dev_checked_with"] == "archive"  # stopped
    single = _check(r["tp6bis-single-stage"], "image.size")["feedback"]
    assert "Dockerfile.single" in single["fix"]
    undeclared = _check(r["tp6bis-no-expose"], "registry.pushed")["feedback"]
    assert "submission.toml" in undeclared["expected"]
    for check_id in ("registry.pushed", "registry.runs"):
        assert _check(r["tp6bis-ok"], check_id)["status"] == "passed"


def test_known_breakages_explain_the_build_and_start_failures(graded_class: dict[str, Any]) -> None:
    r = graded_class["reports"]
    pins = _check(r["tp6-pins-2018"], "run.starts")["feedback"]
    # stand-in images (Python 3.11): gunicorn 19.9 trips on collections.Mapping first;
    # the official python:3.7-alpine: Flask 1.0.2 trips on Jinja2 3.1's missing Markup
    assert pins["found"].startswith("ImportError: cannot import name")
    assert "gunicorn>=20.1" in pins["fix"] or "Flask>=2.2" in pins["fix"]
    node = _check(r["tp6bis-crash-at-start"], "run.starts")["feedback"]
    assert "Node" in node["summary"] and "COPY --from=build" in node["fix"]
    # BuildKit builds COPY app.py config.py /app (it makes the folder): the student's Docker too
    assert r["tp6-copy-no-slash"]["score"] == 20
    assert "Markup" not in _check(r["tp6-ok"], "run.starts")["message"]


def test_static_diagnoses_on_the_bundled_mistakes(graded_class: dict[str, Any]) -> None:
    r = graded_class["reports"]
    secret = _check(r["tp6-secret-env"], "image.no_secrets")
    assert secret["max_score"] == 0 and secret["score"] == 0  # advice: shown, not scored
    assert secret["feedback"]["evidence"] == "line 5: ENV SECRET_KEY=******"
    out: Path = graded_class["out"]
    for name in ("report.json", "report.md", "report.html", "build.log"):
        assert "a3f9c2e17b5d4e08" not in (out / "tp6-secret-env" / name).read_text("utf-8"), name
    lint = _check(r["tp6-secret-env"], "dockerfile.lint")
    assert lint["status"] == "passed" and "DL3064" in lint["feedback"]["evidence"]
    assert "image.no_secrets" in lint["feedback"]["evidence"]  # graded there, not twice
    pins_lint = _check(r["tp6-pins-2018"], "dockerfile.lint")  # DL3042: image.waste grades it
    assert (
        pins_lint["status"] == "passed"
        and pins_lint["feedback"]["found"] == "DL3042 -> image.waste"
    )
    assert pins_lint["feedback"]["evidence"].startswith("line 12: DL3042 (warning)")
    assert "wiki/DL3042" in pins_lint["feedback"]["evidence"]
    label = _check(r["tp6bis-label-in-build-stage"], "dockerfile.label_maintainer")["feedback"]
    assert "étage 1" in label["summary"] and "ligne 3" in label["found"]  # French by default
    assert label["evidence"] == 'line 3: LABEL maintainer="Martin Camille"'
    unpinned = _check(r["tp6-unpinned-base"], "dockerfile.pinned_base")["feedback"]
    assert unpinned["evidence"] == "line 1: FROM python:latest" and "latest" in unpinned["fix"]
    npm = _check(r["tp6bis-npm-install"], "dockerfile.npm_ci")["feedback"]
    assert "package-lock.json" in npm["summary"] and npm["evidence"] == "line 5: RUN npm install"
    ignore = _check(r["tp6bis-no-dockerignore"], "dockerfile.dockerignore")["feedback"]
    assert "node_modules/" in ignore["summary"] and "kB" in ignore["summary"]
    assert "node_modules/:" in ignore["evidence"]
    health = _check(r["tp6-ok"], "image.healthcheck")["message"]
    assert "HEALTHCHECK" in health
    assert "python3" in _check(r["tp6-wrong-text"], "image.healthcheck")["feedback"]["fix"]
    assert "node" in _check(r["tp6bis-no-expose"], "image.healthcheck")["feedback"]["fix"]
    pins_facts, bis_facts = r["tp6-pins-2018"]["facts"], r["tp6bis-no-dockerignore"]["facts"]
    assert pins_facts["lint"] == [{"rule": "DL3042", "level": "warning", "line": 12}]
    assert bis_facts["context_files"] == 8 and bis_facts["context_bytes"] > 60_000
    assert ["node_modules", 738] in bis_facts["context_largest"]
    for name in ("tp6-ok", "tp6bis-ok"):  # the correct ones come out clean of every diagnosis
        assert all(c["status"] == "passed" for c in r[name]["checks"] if c["max_score"] == 0)


def test_diagnoses_on_the_real_image_and_container(graded_class: dict[str, Any]) -> None:
    r = graded_class["reports"]
    for name in ("tp6-ok", "tp6bis-ok"):
        facts = r[name]["facts"]
        assert [s["cached"] for s in facts["layer_cache"]["steps"] if s["installs"]] in (
            [True],
            [True, True],
        ), name
        assert not facts["stop"]["killed"] and facts["stop"]["exit_status"] != 137, name
        assert facts["waste"]["scope"] == "student" and facts["waste"]["efficiency"] > 0.9, name
        assert facts["waste"]["method"] in ("overlay2", "docker save"), name
        table = facts["layer_table"]
        assert table[0]["base"] and not table[-1]["base"], name
        assert all(
            not row["instruction"].startswith("LABEL org.docker-lab-grader") for row in table
        )
    rerun = _check(r["tp6-code-before-deps"], "image.layer_cache")["feedback"]
    assert "line 5: COPY . . — re-ran" in rerun["evidence"]
    assert (
        "line 6: RUN pip install --no-cache-dir -r requirements.txt — re-ran" in rerun["evidence"]
    )
    assert "app.py" in rerun["summary"]
    shell = r["tp6-shell-form-entrypoint"]["facts"]["stop"]
    assert shell["killed"] and shell["exit_status"] == 137
    # /bin/sh as PID 1 does not catch SIGTERM: killed at once, not after the 5 s grace (how
    # long the engine takes to kill is not timed here: the class loads the machine)
    assert shell["outcome"] == "ignored"
    node = r["tp6bis-no-sigterm-listener"]["facts"]["stop"]
    assert (node["killed"], node["exit_status"], node["outcome"]) == (True, 137, "dropped")
    assert node["pid1"] == "node index.js"
    for name in ("tp6-ok", "tp6bis-ok"):
        assert r[name]["facts"]["stop"]["outcome"] == "exited", name
    assert shell["pid1"].startswith("/bin/sh -c gunicorn")
    stop = _check(r["tp6-shell-form-entrypoint"], "run.stop_signal")["feedback"]
    assert "exec" in stop["fix"] and "--init" in stop["fix"]
    waste = r["tp6-cleanup-later"]["facts"]["waste"]
    assert waste["wasted_bytes"] > 1_000_000 and waste["efficiency"] < 0.9
    top = waste["top_offenders"][0]
    assert top["kind"] == "deleted" and top["path"].endswith("/__pycache__")
    assert top["instruction"] == "RUN pip install --no-cache-dir -r requirements.txt"
    rows = [row["instruction"] for row in r["tp6-cleanup-later"]["facts"]["layer_table"]]
    assert "RUN find /usr/local/lib -name __pycache__ -prune -exec rm -rf {} +" in rows
    shipped = r["tp6bis-cosmetic-multistage"]["facts"]["waste"]["top_offenders"]
    assert ("/app/node_modules/mocha", "dev_dependency") in {
        (o["path"], o["kind"]) for o in shipped
    }
    npm = r["tp6bis-single-stage"]["facts"]["waste"]["top_offenders"]
    assert ("/root/.npm", "npm_cache") in {(o["path"], o["kind"]) for o in npm}
    for name, report in r.items():  # advice: the totals stay 20 and 22
        assert report["max_score"] == {"tp6": 20, "tp6bis": 22}[report["lab"]], name


def test_correct_shapes_and_faults_where_they_lie(graded_class: dict[str, Any]) -> None:
    """Issue 16: unusual correct shapes score in full; a start the engine refuses for the
    image's reasons is the student's run.starts, with the engine's message and a diagnosis."""
    r = graded_class["reports"]
    for name in ("tp6-slow-root", "tp6-css-before-title"):
        assert r[name]["score"] == 20, name
    assert _check(r["tp6bis-npm-guide-order"], "dockerfile.package_json_first")["score"] == 1
    refused = _check(r["tp6-gunicorn-missing"], "run.starts")["feedback"]
    assert 'exec: "gunicorn": executable file not found' in refused["found"]
    assert "requirements.txt" in refused["fix"]
    assert _check(r["tp6-gunicorn-missing"], "image.user_non_root")["status"] == "passed"


BUILDKIT_ONLY = {
    "tp6-cache-mount": "RUN --mount",
    "tp6bis-secret-mount": "RUN --mount",
    "tp6bis-unused-broken-stage": "experiments",
}
"""Bundled submissions only BuildKit builds as ``docker build`` does, and what the classic
builder's honest error names."""


def test_buildkit_builds_what_the_students_docker_builds(graded_class: dict[str, Any]) -> None:
    r = graded_class["reports"]
    assert {report["facts"].get("builder") for report in r.values()} <= {"buildkit", None}
    assert r["tp6-ok"]["facts"]["builder"] == "buildkit"
    for name in BUILDKIT_ONLY:
        assert r[name]["score"] == r[name]["max_score"], name
    steps = r["tp6-cache-mount"]["facts"]["layer_cache"]["steps"]
    install = next(s for s in steps if s["installs"])
    assert install["cached"] and install["line"] == 12
    markdown = (graded_class["out"] / "tp6-ok" / "report.md").read_text(encoding="utf-8")
    assert "Image construite avec BuildKit" in markdown  # French: the lab's language


def test_classic_builder_grades_to_the_goldens_with_honest_errors(
    graded_class_classic: dict[str, Any],
) -> None:
    proc = graded_class_classic["proc"]
    assert proc.returncode == 0, proc.stderr
    reports = graded_class_classic["reports"]
    classic = tomllib.loads((GOLDENS / "classic.toml").read_text(encoding="utf-8"))
    for lab in ("tp6", "tp6bis"):
        expected = tomllib.loads((GOLDENS / f"{lab}.toml").read_text(encoding="utf-8"))
        for name, statuses in {**expected, **classic}.items():
            report = reports[name]
            if name in BUILDKIT_ONLY:
                build = _check(report, "build.succeeds")
                assert build["status"] == "error" and build["cause"] == "tool", name
                assert BUILDKIT_ONLY[name] in build["message"], build["message"]
                assert report["facts"]["builder"] == "classic"
                continue
            assert _statuses(report) == statuses, name
            assert report["facts"].get("builder") in ("classic", None), name
    assert graded_class_classic["leftovers"] == ([], [])
    copy = _check(reports["tp6-copy-no-slash"], "build.succeeds")["feedback"]
    assert "When using COPY with more than one source file" in copy["found"]
    assert "line 14: COPY app.py config.py /app" in copy["found"]
    assert "COPY app.py config.py ./" in copy["fix"]

"""Layer cache probe, stop signal and image waste: the pure logic, no engine."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from checks.test_image import test_layer_cache as layer_cache_check
from checks.test_image import test_waste as waste_check
from checks.test_run import test_stop_signal as stop_signal_check
from grader.dockerfile.parse import parse_text
from grader.errors import ContainerExited
from grader.facts import CacheFacts, CacheStep, Offender, StartResult, StopFacts, WasteFacts
from grader.grading import diagnostics
from grader.grading.rubric import FEEDBACK_KEY, Grade
from grader.labs.params import StopSignalParams, WasteParams
from grader.labs.spec import load_lab, load_lab_file
from grader.stages import cache_probe, layers

CODE_FIRST = """\
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir \\
    -r requirements.txt
USER 1000
CMD ["gunicorn", "app:app"]
"""

MULTI = """\
# syntax comment kept
ARG NODE=18
FROM node:${NODE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm test

FROM node:18-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY --from=build /app/index.js ./
CMD ["node", "index.js"]
"""

INSTALLS = cache_probe.install_matcher(["pip install", "npm ci", "npm install"])


def facts_of(text: str, tmp_path: Path) -> object:
    path = tmp_path / "Dockerfile"
    path.write_text(text, encoding="utf-8")
    return parse_text(text, path)


# -- layer cache probe -------------------------------------------------------------------------


def test_a_single_stage_is_cut_after_its_install(tmp_path: Path) -> None:
    facts = facts_of(CODE_FIRST, tmp_path)
    kept = cache_probe.kept_instructions(facts, INSTALLS)  # type: ignore[arg-type]
    assert kept is not None
    assert [i.keyword for i in kept] == ["FROM", "WORKDIR", "COPY", "RUN"]
    text = cache_probe.cut_text(facts, kept)  # type: ignore[arg-type]
    assert text.endswith("RUN pip install --no-cache-dir \\\n    -r requirements.txt\n")
    assert "USER" not in text


def test_each_stage_is_cut_after_its_own_install(tmp_path: Path) -> None:
    facts = facts_of(MULTI, tmp_path)
    kept = cache_probe.kept_instructions(facts, INSTALLS)  # type: ignore[arg-type]
    assert kept is not None
    assert [f"{i.keyword} {i.value}" for i in kept] == [
        "ARG NODE=18",
        "FROM node:${NODE} AS build",
        "WORKDIR /app",
        "COPY package.json package-lock.json ./",
        "RUN npm ci",
        "FROM node:18-slim",
        "WORKDIR /app",
        "COPY package.json package-lock.json ./",
        "RUN npm ci --omit=dev",
    ]
    text = cache_probe.cut_text(facts, kept)  # type: ignore[arg-type]
    assert text.startswith("# syntax comment kept\nARG NODE=18\n")
    assert "npm test" not in text and "--from=build" not in text


def test_a_stage_copied_from_before_the_install_is_kept_whole(tmp_path: Path) -> None:
    text = "FROM node:18 AS assets\nRUN echo hi > /x\n\nFROM node:18\nCOPY --from=assets /x /x\n"
    facts = facts_of(text + "RUN npm ci\nCOPY . .\n", tmp_path)
    kept = cache_probe.kept_instructions(facts, INSTALLS)  # type: ignore[arg-type]
    assert kept is not None
    assert [i.line for i in kept] == [1, 2, 4, 5, 6]


def test_no_install_means_nothing_to_measure(tmp_path: Path) -> None:
    facts = facts_of('FROM python:3.11-slim\nCOPY . .\nCMD ["python", "app.py"]\n', tmp_path)
    assert cache_probe.kept_instructions(facts, INSTALLS) is None  # type: ignore[arg-type]


def test_steps_are_timed_and_marked_cached_from_the_builder_output(tmp_path: Path) -> None:
    chunks = [
        (0.0, "Step 1/4 : FROM python:3.11-slim"),
        (0.0, "\n ---> e343b18104c4\nStep 2/4 : WORKDIR /app\n ---> Using cache\n"),
        (0.1, "Step 3/4 : COPY . .\n ---> 1b2c3d\n"),
        (0.5, "Step 4/4 : RUN pip install --no-cache-dir     -r requirements.txt\n"),
        (0.6, " ---> Running in 9a8b\nCollecting flask\n"),
        (4.5, "Step 5/5 : LABEL org.docker-lab-grader=1\n"),
    ]
    marks = cache_probe.parse_steps(chunks)
    assert [(m.number, m.cached) for m in marks] == [
        (1, False),
        (2, True),
        (3, False),
        (4, False),
    ] + [(5, False)]
    kept = cache_probe.kept_instructions(facts_of(CODE_FIRST, tmp_path), INSTALLS)  # type: ignore[arg-type]
    assert kept is not None
    steps = cache_probe.step_facts(marks, kept, INSTALLS, end=5.0)
    assert len(steps) == 4  # the grader's LABEL step is not the student's
    assert steps[3].installs and not steps[3].cached and steps[3].line == 4
    assert steps[3].seconds == pytest.approx(4.0)
    assert steps[1].cached and steps[1].instruction == "WORKDIR /app"


def test_the_app_file_is_the_one_the_command_runs_never_a_manifest(tmp_path: Path) -> None:
    facts = facts_of(CODE_FIRST, tmp_path)
    for name in ("requirements.txt", "config.py", "app.py", "zz.py"):
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    deps = ["requirements.txt"]
    assert cache_probe.app_file(tmp_path, facts, deps) == "app.py"  # type: ignore[arg-type]
    (tmp_path / "app.py").unlink()
    assert cache_probe.app_file(tmp_path, facts, deps) == "config.py"  # type: ignore[arg-type]
    (tmp_path / ".dockerignore").write_text("*.py\n", encoding="utf-8")
    assert cache_probe.app_file(tmp_path, facts, deps) is None  # type: ignore[arg-type]


def test_the_grader_labels_go_in_one_instruction_and_odd_values_are_left_out() -> None:
    line = cache_probe.label_line({"org.x": "1", "org.x.run": "ab12", "org.x.sub": 'a"b\nc'})
    assert line == 'LABEL "org.x"="1" "org.x.run"="ab12"\n'
    assert cache_probe.label_line({}) == ""


def test_the_copy_keeps_modes_and_links(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "run.sh").write_text("echo\n", encoding="utf-8")
    (source / "run.sh").chmod(0o751)
    (source / "link").symlink_to("/etc/passwd")
    os.mkfifo(source / "pipe")  # would block a plain copy
    cache_probe.copy_tree(source, tmp_path / "copy")
    assert not (tmp_path / "copy" / "pipe").exists()
    assert (tmp_path / "copy" / "run.sh").stat().st_mode & 0o777 == 0o751
    assert (tmp_path / "copy" / "link").is_symlink()


# -- image waste ---------------------------------------------------------------------------------


def layer_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_layer_lists_files_whiteouts_and_opaque_folders() -> None:
    data = layer_tar({"app/a.py": b"1234", "tmp/.wh.big.bin": b"", "cache/.wh..wh..opq": b""})
    content = layers.read_layer(io.BytesIO(data))
    assert content.files == {"app/a.py": 4}
    assert content.deleted == ["tmp/big.bin"]
    assert content.opaque == ["cache"]


def content(files: dict[str, int], deleted: tuple[str, ...] = (), opaque: tuple[str, ...] = ()):
    return layers.LayerContent(dict(files), list(deleted), list(opaque))


def test_bytes_deleted_or_overwritten_later_are_wasted_caches_and_tools_counted() -> None:
    order = [
        ("RUN pip install", content({"usr/lib/x/__pycache__/a.pyc": 300, "usr/lib/x/a.py": 50})),
        ("COPY big.tar /tmp/", content({"tmp/big.tar": 1000})),
        ("RUN rm", content({}, deleted=("usr/lib/x/__pycache__", "tmp/big.tar"))),
        ("COPY . .", content({"usr/lib/x/a.py": 60, "root/.npm/_cacache/i": 70})),
        ("RUN apt-get install gcc", content({"usr/lib/gcc/x86_64/cc1": 500})),
        ("RUN wipe", content({}, opaque=("srv",))),
    ]
    added, wasted, tally = layers.waste_of(order)
    assert added == 300 + 50 + 1000 + 60 + 70 + 500
    assert wasted == 300 + 1000 + 50
    kinds = {(o.kind, o.path): (o.size_bytes, o.instruction) for o in tally.offenders.values()}
    assert kinds[("deleted", "/tmp/big.tar")] == (1000, "COPY big.tar /tmp/")
    assert kinds[("deleted", "/usr/lib/x/__pycache__")] == (300, "RUN pip install")
    assert kinds[("overwritten", "/usr/lib/x/a.py")] == (50, "RUN pip install")
    assert kinds[("npm_cache", "/root/.npm")] == (70, "COPY . .")
    assert kinds[("build_tool:gcc", "/usr/lib/gcc")] == (500, "RUN apt-get install gcc")


def test_dev_dependencies_left_in_the_image_count_with_the_build_tools() -> None:
    order = [
        (
            "RUN npm ci",
            content({"app/node_modules/mocha/lib/a.js": 40, "app/node_modules/mochawesome/x": 5}),
        ),
        ("COPY . .", content({"app/node_modules/express/index.js": 30})),
    ]
    facts = layers.summarise([], "student", order, top=5, dev_packages=("mocha",))
    assert facts.tool_bytes == 40
    assert [(o.path, o.kind) for o in facts.offenders] == [
        ("/app/node_modules/mocha", "dev_dependency")
    ]
    assert layers.summarise([], "student", order, top=5).tool_bytes == 0


def test_the_summary_ranks_offenders_and_computes_efficiency() -> None:
    order = [
        ("RUN a", content({"a": 600, "root/.cache/pip/http/x": 100})),
        ("RUN b", content({}, ("a",))),
    ]
    facts = layers.summarise([], "student", order, top=1)
    assert (facts.added_bytes, facts.wasted_bytes, facts.cache_bytes) == (700, 600, 100)
    assert [o.path for o in facts.offenders] == ["/a"]
    assert facts.efficiency == pytest.approx(0.0)
    lean = layers.summarise([], "student", [("RUN a", content({"a": 10}))], top=5)
    assert lean.efficiency == 1.0 and lean.offenders == ()


def saved_image(fmt: str, layer_blobs: list[bytes], config: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        for i, blob in enumerate(layer_blobs):
            if fmt == "legacy":
                add(f"{i:064x}/layer.tar", blob)
            else:
                add(f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}", blob)
        add(
            "ffff.json" if fmt == "legacy" else "blobs/sha256/" + "f" * 64,
            json.dumps(config).encode(),
        )
        add("manifest.json", b"[]")
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["legacy", "oci"])
def test_a_saved_image_gives_the_wanted_layers_by_diff_id_and_its_config(fmt: str) -> None:
    base, mine = layer_tar({"bin/sh": b"x" * 10}), layer_tar({"app/a.py": b"12"})
    ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in (base, mine)]
    config = {"rootfs": {"diff_ids": ids}, "history": [{"created_by": "x"}]}
    found, got = layers.read_saved_image(
        io.BytesIO(saved_image(fmt, [base, mine], config)), {ids[1]}
    )
    assert set(found) == {ids[1]}
    assert found[ids[1]].files == {"app/a.py": 2}
    assert got == config


def test_history_names_take_the_dockerfile_text_and_hide_the_grader_labels() -> None:
    history = [
        {"CreatedBy": "", "Size": 100},
        {"CreatedBy": "/bin/sh -c #(nop) COPY file:abc in . ", "Size": 5},
        {"CreatedBy": "/bin/sh -c pip install  flask", "Size": 50},
        {"CreatedBy": "/bin/sh -c #(nop)  LABEL org.docker-lab-grader=1", "Size": 0},
    ]
    names = layers.history_names(
        history,
        1,
        ["COPY requirements.txt .", "RUN pip install flask"],
        "LABEL org.docker-lab-grader",
    )
    assert names == ["", "COPY requirements.txt .", "RUN pip install flask", None]
    rows = layers.layer_rows(history, names, 1, "python:3.11-slim")
    assert [(r.instruction, r.size_bytes, r.base) for r in rows] == [
        ("FROM python:3.11-slim", 100, True),
        ("COPY requirements.txt .", 5, False),
        ("RUN pip install flask", 50, False),
    ]
    raw = layers.history_names(history, 1, ["only one"], "LABEL org.docker-lab-grader")
    assert raw[1:3] == ["COPY file:abc in .", "RUN pip install flask"]


def test_layer_names_skip_empty_layers() -> None:
    config = {"history": [{"empty_layer": True}, {}, {}]}
    names = ["WORKDIR /app", "COPY a .", "RUN b"]
    assert layers.layer_names(config, names, ["sha256:1", "sha256:2"]) == {
        "sha256:1": "COPY a .",
        "sha256:2": "RUN b",
    }


# -- the checks' verdicts -----------------------------------------------------------------------


def grade(check_id: str, params: object) -> Grade:
    return Grade(check_id, params, "en", None)


def test_a_killed_container_fails_the_stop_signal_check_an_exec_form_one_passes() -> None:
    killed = StopFacts(3.3, 3.0, 137, "/bin/sh -c gunicorn app:app", True)
    assert killed.killed
    with pytest.raises(pytest.fail.Exception, match="killed after 3 s"):
        stop_signal_check(killed, grade("run.stop_signal", StopSignalParams()))
    prompt = StopFacts(0.4, 3.0, 0, "gunicorn app:app", True)
    stop_signal_check(prompt, grade("run.stop_signal", StopSignalParams()))
    with pytest.raises(pytest.fail.Exception, match="more than 0.2 s"):
        stop_signal_check(prompt, grade("run.stop_signal", StopSignalParams(max_stop_s=0.2)))


def test_a_rerun_install_fails_the_layer_cache_check_with_its_evidence() -> None:
    steps = (
        CacheStep("COPY . .", 3, False, 0.2, False),
        CacheStep("RUN pip install -r requirements.txt", 4, False, 6.25, True),
    )
    with pytest.raises(pytest.fail.Exception) as failed:
        layer_cache_check(CacheFacts("app.py", steps, 6.5), grade("image.layer_cache", None))
    message = str(failed.value)
    assert "re-ran the dependency install (6.2 s)" in message
    assert "line 3: COPY . . brings app.py" in message
    cached = (CacheStep("RUN pip install -r requirements.txt", 4, True, 0.0, True),)
    layer_cache_check(CacheFacts("app.py", cached, 0.3), grade("image.layer_cache", None))


def test_the_waste_check_fails_over_its_thresholds() -> None:
    wasteful = WasteFacts((), "student", True, 10_000_000, 4_000_000, 0, 0, ())
    with pytest.raises(pytest.fail.Exception, match="4.0 MB for nothing: efficiency 60 %"):
        waste_check(wasteful, grade("image.waste", WasteParams()))
    waste_check(wasteful, grade("image.waste", WasteParams(max_wasted_mb=5, min_efficiency=0.5)))
    skipped = WasteFacts((), "student", False)
    waste_check(skipped, grade("image.waste", WasteParams()))


# -- lab files ----------------------------------------------------------------------------------


def test_the_builtin_labs_give_the_diagnoses_as_advice() -> None:
    for lab_id in ("tp6", "tp6bis"):
        lab = load_lab(lab_id)
        for check_id in ("image.layer_cache", "image.waste", "run.stop_signal"):
            spec = lab.check(check_id)
            assert spec is not None and spec.mode == "advice" and spec.max_score == 0


def test_a_lab_file_can_score_a_diagnosis(tmp_path: Path) -> None:
    path = tmp_path / "lab.toml"
    path.write_text(
        'schema_version = 1\nid = "strict"\ntitle = "t"\n'
        '[checks."image.waste"]\npoints = 2\nmode = "scored"\nmax_wasted_mb = 3\n'
        '[checks."run.stop_signal"]\npoints = 1\ngrace_s = 5\n',
        encoding="utf-8",
    )
    lab = load_lab_file(path)
    waste, stop = lab.check("image.waste"), lab.check("run.stop_signal")
    assert waste is not None and waste.max_score == 2 and waste.params.max_wasted_mb == 3
    assert stop is not None and stop.max_score == 1 and stop.params.grace_s == 5.0


# -- the stop comes after what needs the running container ----------------------------------------


class FakeEngine:
    """Answers what the timed stop asks; records the calls in order."""

    def __init__(self, calls: list[str], running: bool = True) -> None:
        self.calls, self.running = calls, running

    def inspect_container(self, container_id: str) -> dict[str, object]:
        return {"State": {"Running": self.running, "Pid": 42, "ExitCode": 0 if self.running else 3}}

    def is_local(self) -> bool:  # as a remote engine: PID 1's command line comes from top
        return False

    def top_commands(self, container_id: str) -> list[tuple[int, str]]:
        return [(42, "/bin/sh -c gunicorn app:app"), (43, "gunicorn app:app")]

    def stop_container(self, container_id: str, grace_s: float) -> tuple[float, int | None]:
        self.calls.append(f"stop {grace_s:g}")
        return grace_s + 0.2, 137


class FakePipeline:
    """The stages ``timed_stop`` reads; each one records that it ran."""

    def __init__(self, lab_id: str, running: bool = True) -> None:
        self.calls: list[str] = []
        self.lab = load_lab(lab_id)
        self.engine = FakeEngine(self.calls, running)
        self.start = StartResult("c1", 1234, True, True, None, 0.5, None, "")

    def __getattr__(self, stage: str) -> object:
        self.calls.append(stage)
        if stage == "missing_probe":
            raise RuntimeError("a stage that failed is not the stop's business")
        return object()


def test_the_stop_waits_for_the_stages_that_need_the_running_container() -> None:
    pipeline = FakePipeline("tp6")
    facts = diagnostics.timed_stop(pipeline)  # type: ignore[arg-type]
    assert pipeline.calls == ["runtime", "root_probe", "missing_probe", "stop 5"]
    assert facts.killed and facts.pid1 == "/bin/sh -c gunicorn app:app" and facts.grace_s == 5
    bis = FakePipeline("tp6bis")
    diagnostics.timed_stop(bis)  # type: ignore[arg-type]
    assert bis.calls == ["runtime", "dev_packages", "root_probe", "stop 5"]


def test_a_container_that_already_exited_is_not_stopped() -> None:
    pipeline = FakePipeline("tp6", running=False)
    with pytest.raises(ContainerExited):
        diagnostics.timed_stop(pipeline)  # type: ignore[arg-type]
    assert not any(c.startswith("stop") for c in pipeline.calls)


def test_the_waste_evidence_says_how_the_layers_were_read() -> None:
    item = SimpleNamespace(stash={})
    wasteful = WasteFacts((), "student", True, 10_000_000, 4_000_000, 0, 0, (), "overlay2")
    with pytest.raises(pytest.fail.Exception):
        waste_check(wasteful, Grade("image.waste", WasteParams(), "en", item))  # type: ignore[arg-type]
    assert item.stash[FEEDBACK_KEY].evidence.endswith("overlay2 folders (yours only).")
    offender = Offender("/tmp/big", 4_000_000, "deleted", "COPY big /tmp/")
    shown = WasteFacts((), "student", True, 10_000_000, 4_000_000, 0, 0, (offender,), "overlay2")
    with pytest.raises(pytest.fail.Exception):
        waste_check(shown, Grade("image.waste", WasteParams(), "en", item))  # type: ignore[arg-type]
    assert item.stash[FEEDBACK_KEY].evidence.splitlines() == [
        "     4.0 MB  /tmp/big  <- COPY big /tmp/",
        "Layers read from the engine's overlay2 folders (yours only).",
    ]
    lean = WasteFacts((), "student", True, 10_000_000, 0, 0, 0, (), "docker save")
    waste_check(lean, Grade("image.waste", WasteParams(), "fr", item))  # type: ignore[arg-type]
    assert item.stash[FEEDBACK_KEY].evidence == "Couches lues par docker save."

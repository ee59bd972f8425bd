"""The benchmark's phases: floor and grader side by side per submission, then the class runs."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import copies
from bench.classfloor import ClassFloor, run_class_floor, warm
from bench.floor import FloorFailed, FloorTarget, build_only, run_floor
from bench.gradearm import Capabilities, GradeRun, check_statuses, grade_argv, run_grade
from bench.listen import listen_to_probe
from bench.stats import difference, median, ratio
from grader.errors import GraderError
from grader.intake.submission import load_submission
from grader.labs.spec import choose_lab

CLASS_JOBS = (1, 2, 4)
"""The parallelism levels of the class runs (grade -j N against xargs -P N)."""
EXPOSE = re.compile(r"^\s*EXPOSE\s+(\d+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Config:
    """What one benchmark run measures, and where."""

    grade: Path
    """The ``grade`` command (the installed console script)."""
    submissions: Path
    """The folder holding the bundled submissions."""
    only: tuple[str, ...]
    """Submissions timed side by side with the floor."""
    class_sources: tuple[str, ...]
    """Submissions the generated class is made from."""
    repeat: int
    """Repeats of each side-by-side pair (medians are reported)."""
    class_size: int
    """Students in the generated class (0: no class runs)."""
    work: Path
    """Temporary folder for copies and reports (removed at the end)."""
    run_id: str
    """This run's id (the value of the benchmark's label)."""
    queue_repeat: int = 7
    """Repeats of the queue's arms (each grades a whole class)."""


def app_port(folder: Path) -> int | None:
    """The port the app listens on: the lab's, else the Dockerfile's last EXPOSE."""
    lab = choose_lab(folder, "auto")
    if lab is not None and lab.port:
        return lab.port
    sub = load_submission(folder)
    if sub.dockerfile is None:
        return None
    found = EXPOSE.findall(sub.dockerfile.read_text(encoding="utf-8", errors="replace"))
    return int(found[-1]) if found else None


def arm_order(repeat: int) -> tuple[str, str]:
    """Which arm goes first in repeat ``repeat``: they alternate."""
    return ("floor", "grader") if repeat % 2 == 0 else ("grader", "floor")


class Bench:
    """Runs the phases; remembers every ``grade`` pid for the clean-up."""

    def __init__(self, cfg: Config, caps: Capabilities) -> None:
        self.cfg = cfg
        self.caps = caps
        self.grade_pids: list[int] = []
        self._seq = itertools.count(1)

    def _folder(self, kind: str) -> Path:
        path = self.cfg.work / f"{kind}-{next(self._seq):03d}"
        path.mkdir(parents=True)
        return path

    def grade(
        self, paths: Sequence[Path], jobs: int | None = None, force: bool = True,
        sample_memory: bool = False, output: Path | None = None,
    ) -> GradeRun:  # fmt: skip
        """Run ``grade`` on ``paths`` into a fresh (or the given) output folder."""
        out = output or self._folder("reports")
        argv = grade_argv(self.cfg.grade, paths, out, self.caps, jobs, force)
        return run_grade(argv, out, sample_memory, on_start=self.grade_pids.append)

    def floor(self, target: FloorTarget) -> float:
        """One floor sequence, with a label value unique to it."""
        return run_floor(target, self.cfg.run_id, f"{self.cfg.run_id}-{next(self._seq)}")

    def _copy(self, src: Path, kind: str, cold: bool) -> Path:
        folder = copies.copy_submission(src, self._folder(kind) / src.name)
        if cold:
            copies.mark_dependencies(folder, copies.nonce())
        return folder

    def _target(self, folder: Path, port: int) -> FloorTarget:
        sub = load_submission(folder)
        if sub.dockerfile is None:
            raise FloorFailed(f"{folder.name} has no Dockerfile")
        return FloorTarget(folder, sub.dockerfile, port)

    def pair(self, src: Path, port: int, cold: bool, repeat: int) -> dict[str, float | int]:
        """One floor and one grader run on the same submission, in alternating order."""
        sample: dict[str, float | int] = {}
        for arm in arm_order(repeat):
            folder = self._copy(src, "cold" if cold else "warm", cold)
            if arm == "floor":
                sample["floor_s"] = self.floor(self._target(folder, port))
            else:
                run = self.grade([folder])
                sample["grader_s"], sample["grader_exit"] = run.seconds, run.exit_code
        return sample

    def submission(self, name: str) -> dict[str, Any]:
        """Everything measured on one bundled submission."""
        src = self.cfg.submissions / name
        port = app_port(src)
        if port is None:
            raise FloorFailed(f"{name}: no port known (the lab gives none and no EXPOSE)")
        lab = choose_lab(src, "auto")
        warm_src = copies.copy_submission(src, self._folder("warm-src") / name)
        # warm-up, untimed: every layer of this content is in the cache afterwards
        self.floor(self._target(warm_src, port))
        self.grade([warm_src])
        phases: dict[str, list[dict[str, float | int]]] = {"cold": [], "warm": []}
        for r in range(self.cfg.repeat):
            phases["cold"].append(self.pair(src, port, cold=True, repeat=r))
            phases["warm"].append(self.pair(warm_src, port, cold=False, repeat=r))
        out = self._folder("reports")
        argv = grade_argv(self.cfg.grade, [warm_src], out, self.caps)
        run, seen = listen_to_probe(argv, out, port, on_start=self.grade_pids.append)
        report = run.reports.get(name, {}) if run else {}
        return {
            "name": name,
            "lab": lab.id if lab else "unknown",
            "port": port,
            "cold": summarise(phases["cold"], cold=True),
            "warm": summarise(phases["warm"], cold=False),
            "listen_to_probe_ms": seen.ms,
            "listen_uncertainty_ms": seen.uncertainty_ms,
            "listen_note": seen.note,
            "graded": {
                "exit_code": run.exit_code if run else None,
                "score": report.get("score"),
                "max_score": report.get("max_score"),
                "http_checks": check_statuses(report, "http."),
            },
        }

    def class_floor(self, students: Sequence[Path], jobs: int) -> ClassFloor:
        """The raw floor over ``students`` with ``xargs -P jobs``."""
        targets = [self._target(folder, app_port(folder) or 0) for folder in students]
        step = f"class{next(self._seq)}"
        return run_class_floor(targets, jobs, self.cfg.run_id, step, self.cfg.work)

    def warm_class(self, sources: Sequence[Path]) -> None:
        """Warm the dependency layers of every source once, for both builders, kept until the
        end: the grader's (the classic builder) and the floor's (``docker build``: BuildKit)."""
        for src in sources:
            port = app_port(src) or 0
            sub = load_submission(src)
            if sub.dockerfile is not None:
                build_only(FloorTarget(src, sub.dockerfile, port), self.cfg.run_id)
                warm(FloorTarget(src, sub.dockerfile, port), self.cfg.run_id)

    def class_runs(self) -> dict[str, Any]:
        """The generated class at -j 1, 2 and 4, each against the raw floor run with
        ``xargs -P`` at the same N (arms alternated, each on a fresh generation of the same
        students: nobody's app layer is in the cache), then an unchanged regrade."""
        cfg, notes = self.cfg, []
        sources = [cfg.submissions / n for n in cfg.class_sources]
        self.warm_class(sources)

        def new_class(kind: str) -> tuple[Path, list[Path]]:
            folder = self._folder(kind)
            return folder, copies.generate_class(sources, folder, cfg.class_size, copies.nonce())

        levels = CLASS_JOBS if self.caps.jobs else (1,)
        if not self.caps.jobs:
            notes.append("grade offers no -j: the -j 2 and -j 4 runs were not made")
        graded: dict[int, tuple[Path, GradeRun]] = {}
        floors: dict[int, ClassFloor] = {}
        for i, jobs in enumerate(levels):
            for arm in arm_order(i):
                if arm == "floor":
                    floors[jobs] = self.class_floor(new_class("class-floor")[1], jobs)
                else:
                    folder = new_class("class")[0]
                    graded[jobs] = (folder, self.grade([folder], jobs=jobs, sample_memory=True))
        if not self.caps.force:
            notes.append("grade offers no --force (no result reuse): the regrade grades again")
        first_folder, first = graded[2] if 2 in graded else graded[1]
        regrade = self.grade([first_folder], jobs=2 if self.caps.jobs else None, force=False,
                             output=first.output)  # fmt: skip
        runs = {n: run for n, (_, run) in graded.items()}
        memory_run = runs.get(4) or runs[1]
        if 4 not in runs:
            notes.append("peak memory measured at -j 1 (no -j 4 available)")
        notes += [f"raw floor at -j {n}: exit {f.exit_code}: {f.stderr_tail}"
                  for n, f in floors.items() if f.exit_code != 0]  # fmt: skip
        return {
            "size": cfg.class_size,
            "sources": list(cfg.class_sources),
            "j1": run_summary(runs.get(1)),
            "j2": run_summary(runs.get(2)),
            "regrade": run_summary(regrade),
            "j4": run_summary(runs.get(4)),
            "floor": {f"j{n}": f.to_dict() for n, f in floors.items()},
            "floor_ratio": {f"j{n}": floor_ratio(runs[n], floors[n]) for n in floors},
            "parallel_ratio": ratio(runs[2].seconds, runs[1].seconds) if 2 in runs else None,
            "regrade_fraction": ratio(regrade.seconds, first.seconds),
            "peak_rss_mb": memory_run.peak_rss_mb,
            "peak_rss_jobs": 4 if 4 in runs else 1,
            "notes": notes,
        }


def floor_ratio(run: GradeRun, floor: ClassFloor) -> float | None:
    """Grader / raw floor for one N; None unless both graded every student."""
    if run.exit_code != 0 or floor.exit_code != 0 or len(run.reports) != floor.students:
        return None
    return ratio(run.seconds, floor.seconds)


def run_summary(run: GradeRun | None) -> dict[str, Any] | None:
    """A class run for the JSON file: time, exit code, how many graded and how."""
    if run is None:
        return None
    statuses = [c["status"] for r in run.reports.values() for c in r.get("checks", [])]
    return {
        "seconds": run.seconds,
        "exit_code": run.exit_code,
        "argv": list(run.argv[1:]),
        "graded": len(run.reports),
        "checks_error": statuses.count("error"),
        "peak_rss_mb": run.peak_rss_mb,
        "stderr_tail": run.stderr_tail,
    }


def summarise(samples: list[dict[str, float | int]], cold: bool) -> dict[str, Any]:
    """Medians of one submission's samples, and its ratio (cold) or added seconds (warm)."""
    floor = [float(s["floor_s"]) for s in samples if "floor_s" in s]
    grader = [float(s["grader_s"]) for s in samples if "grader_s" in s]
    f, g = median(floor), median(grader)
    summary: dict[str, Any] = {
        "floor_s": floor,
        "grader_s": grader,
        "grader_exit_codes": [int(s["grader_exit"]) for s in samples if "grader_exit" in s],
        "floor_median_s": f,
        "grader_median_s": g,
    }
    if cold:
        summary["ratio"] = ratio(g, f)
    else:
        summary["added_s"] = difference(g, f)
    return summary


def safe_submission(bench: Bench, name: str) -> dict[str, Any]:
    """``bench.submission(name)``, or a record of why it could not be measured."""
    try:
        return bench.submission(name)
    except (FloorFailed, GraderError, OSError) as exc:
        return {"name": name, "error": str(exc)}

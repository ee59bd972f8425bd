"""The benchmark's phases: floor and grader side by side per submission, then the class runs."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import copies
from bench.floor import FloorFailed, FloorTarget, build_only, run_floor
from bench.gradearm import Capabilities, GradeRun, check_statuses, grade_argv, run_grade
from bench.listen import listen_to_probe
from bench.stats import difference, median, ratio
from grader.errors import GraderError
from grader.lab import choose_lab
from grader.submission import load_submission

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

    def class_runs(self) -> dict[str, Any]:
        """The generated class: -j 1, -j 2, an unchanged regrade, -j 4 with memory sampled."""
        cfg, notes = self.cfg, []
        sources = [cfg.submissions / n for n in cfg.class_sources]
        for src in sources:  # warm the dependency layers once, kept until the end
            port = app_port(src) or 0
            sub = load_submission(src)
            if sub.dockerfile is not None:
                build_only(FloorTarget(src, sub.dockerfile, port), cfg.run_id)

        def new_class() -> Path:
            folder = self._folder("class")
            copies.generate_class(sources, folder, cfg.class_size, copies.nonce())
            return folder

        first_class = new_class()
        j1 = self.grade([first_class], jobs=1, sample_memory=True)
        j2 = j4 = None
        first = j1
        if self.caps.jobs:
            first_class = new_class()
            j2 = self.grade([first_class], jobs=2, sample_memory=True)
            first = j2
        else:
            notes.append("grade offers no -j: the -j 2 and -j 4 runs were not made")
        if not self.caps.force:
            notes.append("grade offers no --force (no result reuse): the regrade grades again")
        regrade = self.grade([first_class], jobs=2 if self.caps.jobs else None, force=False,
                             output=first.output)  # fmt: skip
        if self.caps.jobs:
            j4 = self.grade([new_class()], jobs=4, sample_memory=True)
        memory_run = j4 or j1
        if j4 is None:
            notes.append("peak memory measured at -j 1 (no -j 4 available)")
        return {
            "size": cfg.class_size,
            "sources": list(cfg.class_sources),
            "j1": run_summary(j1),
            "j2": run_summary(j2),
            "regrade": run_summary(regrade),
            "j4": run_summary(j4),
            "parallel_ratio": ratio(j2.seconds, j1.seconds) if j2 else None,
            "regrade_fraction": ratio(regrade.seconds, first.seconds),
            "peak_rss_mb": memory_run.peak_rss_mb,
            "peak_rss_jobs": 4 if j4 else 1,
            "notes": notes,
        }


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

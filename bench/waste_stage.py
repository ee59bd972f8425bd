"""Time the image.waste stage both ways (overlay2 folders, docker save), warm, side by side.

Run from the repository root: ``.venv/bin/python bench/waste_stage.py [SUBMISSION...]``.
Each submission is built once (the cache warm), then the stage runs ``--repeat`` times per
method, the methods alternated; medians and minima are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from grader.engine import Engine
from grader.grading import diagnostics
from grader.grading.pipeline import Pipeline
from grader.grading.settings import Options
from grader.intake.submission import load_submission
from grader.labels import LABEL_RUN, new_run_labels
from grader.labs.spec import choose_lab

DEFAULT = ["tp6-ok", "tp6bis-ok"]


def main() -> None:
    """Print one line per submission and method."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    engine = Engine()
    labels = new_run_labels()
    try:
        for name in args.names:
            root = Path("submissions") / name
            lab = choose_lab(root, "auto")
            assert lab is not None, name
            pipeline = Pipeline(load_submission(root, name), lab, lambda: engine, labels, Options())
            assert pipeline.build.image_id, name
            times: dict[bool, list[float]] = {True: [], False: []}
            methods: dict[bool, str] = {}
            for _ in range(args.repeat):
                for fast in (False, True):
                    started = time.perf_counter()
                    methods[fast] = diagnostics.waste(pipeline, fast=fast).method
                    times[fast].append(time.perf_counter() - started)
            for fast in (False, True):
                median, best = statistics.median(times[fast]), min(times[fast])
                sys.stdout.write(
                    f"{name:28} {methods[fast]:12} median {median:.3f} s  min {best:.3f} s\n"
                )
    finally:
        engine.sweep(labels[LABEL_RUN])
        engine.close()


if __name__ == "__main__":
    main()

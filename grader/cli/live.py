"""The live display of a class run on a terminal (``rich``): done/total, elapsed time and each
worker's current step, with one line per graded submission printed above it."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from grader.classrun.batch import Graded
from grader.cli.progress import PlainProgress, graded_line, safe


def terminal_console() -> Console:
    """rich's console on stdout (it decides whether that is a terminal)."""
    return Console()


class LiveProgress(PlainProgress):
    """The plain lines, under a live table of the run (done/total, elapsed, each worker)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.total = 0
        self.done = 0
        self.began = time.monotonic()
        self.steps: dict[int, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self.live = Live(
            console=self.console,
            get_renderable=self.render,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def __enter__(self) -> LiveProgress:
        self.live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.live.stop()

    def started(self, total: int, workers: int) -> None:
        """Remember the total; the clock starts now."""
        self.total, self.began = total, time.monotonic()

    def step(self, worker: int, submission: str, step: str) -> None:
        """Note where a worker is (called from the worker threads)."""
        with self._lock:
            self.steps[worker] = (submission, step)

    def graded(self, graded: Graded) -> None:
        """Print its line above the live table."""
        with self._lock:
            self.done += 1
            self.steps = {w: s for w, s in self.steps.items() if s[0] != graded.report.submission}
        self.live.console.print(Text(graded_line(graded)), soft_wrap=True)

    def render(self) -> Group:
        """The live table (called by rich's refresh thread)."""
        elapsed = time.monotonic() - self.began
        head = Text(f"{self.done}/{self.total} graded  {elapsed:.0f} s elapsed", style="bold")
        table = Table.grid(padding=(0, 2))
        with self._lock:
            steps = sorted(self.steps.items())
        for worker, (submission, step) in steps:
            who = "checks" if worker < 0 else f"worker {worker + 1}"
            table.add_row(who, Text(safe(submission)), Text(step, style="cyan"))
        return Group(head, table)

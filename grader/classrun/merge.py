"""``grade merge DIR...``: the report folders of a class's shards joined into one output.

Each shard's submission folders are copied into the output (when it is not the shard's own
folder) and the class files and dashboard are written once over every report, in the class's
order as the shards recorded it (``shard.json``): the same files a single run writes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from grader.classrun.reuse import previous_report
from grader.classrun.shards import SHARD_FILE
from grader.errors import UsageError
from grader.facts.results import SubmissionReport
from grader.report import write_class


@dataclass(frozen=True)
class ShardOutput:
    """One shard's report folder, as ``shard.json`` describes it."""

    folder: Path
    index: int
    count: int
    names: tuple[str, ...]
    """The whole class, in the order a single run grades it."""


def read_shard(folder: Path) -> ShardOutput:
    """A shard's folder.

    Raises:
        UsageError: not a folder a ``--shard`` run wrote.
    """
    try:
        data = json.loads((folder / SHARD_FILE).read_text(encoding="utf-8"))
        return ShardOutput(folder, int(data["shard"]), int(data["of"]), tuple(data["class"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{folder}: no readable {SHARD_FILE} (not a --shard output?)") from exc


def check_complete(shards: list[ShardOutput]) -> None:
    """Every shard of one class, each once.

    Raises:
        UsageError: shards of different classes or splits, a shard missing or given twice.
    """
    first = shards[0]
    for shard in shards[1:]:
        if (shard.count, shard.names) != (first.count, first.names):
            raise UsageError(f"{shard.folder} and {first.folder} are shards of different runs")
    given = sorted(s.index for s in shards)
    if given != list(range(1, first.count + 1)):
        missing = sorted(set(range(1, first.count + 1)) - set(given))
        raise UsageError(
            f"expected each of the {first.count} shards once; missing: "
            f"{', '.join(f'{k}/{first.count}' for k in missing) or 'none'}, given: "
            f"{', '.join(map(str, given))}"
        )


def merge(folders: list[Path], output: Path) -> list[SubmissionReport]:
    """Join the shards in ``folders`` into ``output``; returns the reports in class order.

    Raises:
        UsageError: see ``read_shard`` and ``check_complete``.
    """
    if not folders:
        raise UsageError("grade merge: give the report folders of every shard")
    shards = [read_shard(f) for f in folders]
    check_complete(shards)
    output.mkdir(parents=True, exist_ok=True)
    found: dict[str, SubmissionReport] = {}
    for shard in shards:
        for name in shard.names:
            report = previous_report(shard.folder, name)
            if report is None:
                continue
            source = shard.folder / name
            target = output / name
            if source.resolve() != target.resolve():
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target)
            found[name] = report
    reports = [found[n] for n in shards[0].names if n in found]
    if reports:
        write_class(reports, output)
    return reports

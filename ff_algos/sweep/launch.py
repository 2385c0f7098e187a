"""Submitting a sweep's shards and following them to the end.

A submission writes one job script (:mod:`ff_algos.sweep.script`) for the shards it runs, then
hands it to ``sbatch`` (SLURM) or to local worker processes (:mod:`ff_algos.sweep.local`), and
appends itself to ``submissions.jsonl``. :func:`follow` polls until no shard is pending or
running, printing a line whenever the counts change.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ff_algos.atomic_file import atomic_write
from ff_algos.sweep import slurm
from ff_algos.sweep.finished import finished_cases
from ff_algos.sweep.layout import SweepDir
from ff_algos.sweep.local import LocalRun
from ff_algos.sweep.progress import ShardState, shard_states, summary_line
from ff_algos.sweep.script import SlurmOptions, job_script


def shard_command(manifest: Mapping[str, Any], sweep: SweepDir, k: int) -> list[str]:
    """The pytest command of shard ``k``: the sweep's suite options, its slice, its own storage
    and journal, and a ``--deselect`` for each case it already finished."""
    root = sweep.root.resolve()
    command = [
        manifest["python"],
        "-m",
        "pytest",
        manifest["bench"],
        "-p",
        "no:cacheprovider",
        *manifest["pytest_args"],
        f"--shard={k}/{manifest['shards']}",
        f"--benchmark-storage=file://{root / f'shard-{k}' / 'storage'}",
        f"--journal={root / f'shard-{k}' / 'journal.jsonl'}",
        f"--benchmark-save={manifest['name']}",
        "--yes",
    ]
    for nodeid in sorted(finished_cases(sweep, k).values()):
        command.append(f"--deselect={nodeid}")
    return command


@dataclass
class Launched:
    """A submission in flight: a SLURM job id, or local workers."""

    number: int
    shards: list[int]
    job: str | None = None
    local: LocalRun | None = None

    def live(self) -> dict[int, str]:
        """Shard -> pending/running for this submission's shards still in flight."""
        if self.local is not None:
            return self.local.states()
        return slurm.queue(self.job) if self.job else {}


def submit(
    sweep: SweepDir,
    manifest: Mapping[str, Any],
    shards: Sequence[int],
    launcher: str,
    slurm_options: SlurmOptions,
    slots: list[dict[str, str]],
) -> Launched:
    """Write the job script for ``shards`` and start it with ``launcher`` (slurm or local)."""
    number = len(sweep.submissions()) + 1
    script = sweep.script(number)
    commands = {k: shard_command(manifest, sweep, k) for k in shards}
    for k in shards:
        sweep.shard(k).mkdir(parents=True, exist_ok=True)
    text = job_script(
        sweep, number, commands, Path(manifest["checkout"]), manifest["name"], slurm_options
    )
    with atomic_write(script) as fh:
        fh.write(text.encode())
    os.chmod(script, 0o755)
    launched = Launched(number, list(shards))
    if launcher == "slurm":
        launched.job = slurm.submit(script)
    else:
        launched.local = LocalRun(sweep, number, script, slots)
        launched.local.start(shards)
    sweep.add_submission(
        {
            "number": number,
            "launcher": launcher,
            "job": launched.job,
            "shards": list(shards),
            "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    return launched


def follow(
    sweep: SweepDir,
    cases: Mapping[int, list[str]],
    launched: Launched | None,
    *,
    poll: float,
    echo: Callable[[str], None],
) -> list[ShardState]:
    """Poll until no shard is pending or running; print the counts whenever they change."""
    shown = ""
    while True:
        live = launched.live() if launched is not None else {}
        states = shard_states(sweep, cases, live)
        line = summary_line(states)
        if line != shown:
            echo(f"{time.strftime('%H:%M:%S')} {line}")
            shown = line
        if not any(s.state in ("pending", "running") for s in states):
            return states
        time.sleep(poll)


def manifest_for(
    *,
    name: str,
    shards: int,
    cases: Mapping[int, list[str]],
    pytest_args: Sequence[str],
    bench: Path,
    checkout: Path,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """What ``sweep.json`` holds."""
    return {
        "name": name,
        "shards": shards,
        "cases": {str(k): v for k, v in cases.items()},
        "pytest_args": list(pytest_args),
        "bench": str(bench.resolve()),
        "checkout": str(checkout.resolve()),
        "python": sys.executable,
        "options": dict(options),
    }

"""The job script of one submission: an ``sbatch --array`` script whose task K runs shard K as an
ordinary ``pytest bench/ ... --benchmark-save`` session, then writes its exit status.

The local launcher runs the same script with ``SLURM_ARRAY_TASK_ID`` set, so both launchers run
exactly the commands the script shows.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ff_algos.sweep.layout import SweepDir


@dataclass(frozen=True)
class SlurmOptions:
    """What a cluster needs to know about each array task; None leaves SLURM's default."""

    partition: str | None = None
    time: str | None = None  # e.g. "01:00:00"
    account: str | None = None
    constraint: str | None = None
    gpus_per_task: int | None = None  # None: no GPU requested (CPU clusters, the CI cluster)
    cpus_per_task: int | None = None
    mem: str | None = None  # e.g. "32G"
    max_running: int | None = None  # array tasks running at once (``--array=...%M``)
    extra: tuple[str, ...] = ()  # more sbatch options, verbatim, e.g. ("--qos=high",)

    def directives(self) -> list[str]:
        """The ``#SBATCH`` options these settings add."""
        named = {
            "partition": self.partition,
            "time": self.time,
            "account": self.account,
            "constraint": self.constraint,
            "gpus-per-task": self.gpus_per_task,
            "cpus-per-task": self.cpus_per_task,
            "mem": self.mem,
        }
        return [f"--{k}={v}" for k, v in named.items() if v is not None] + list(self.extra)


def job_script(
    sweep: SweepDir,
    submission: int,
    commands: Mapping[int, Sequence[str]],
    checkout: Path,
    name: str,
    slurm: SlurmOptions,
) -> str:
    """The script text; ``commands`` maps each shard number to its pytest command."""
    shards = sorted(commands)
    array = ",".join(map(str, shards))
    if slurm.max_running:
        array += f"%{slurm.max_running}"
    log = sweep.root.resolve() / "shard-%a" / f"{submission}.log"
    lines = [
        "#!/bin/bash",
        f"# ff-bench sweep {name}, submission {submission}: one array task per shard.",
        f"#SBATCH --job-name=ff-bench-{name}",
        f"#SBATCH --array={array}",
        "#SBATCH --ntasks=1",
        f"#SBATCH --output={log}",
        *(f"#SBATCH {d}" for d in slurm.directives()),
        "set -u",
        f"cd {shlex.quote(str(checkout))}",
        'k="$SLURM_ARRAY_TASK_ID"',
        'if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then',
        '  export OMP_NUM_THREADS="$SLURM_CPUS_PER_TASK"',
        "fi",
        'echo "ff-bench shard $k on $(hostname) at $(date -Is)"',
        'case "$k" in',
    ]
    for k in shards:
        lines.append(f"  {k}) {shlex.join(commands[k])} ;;")
    lines += [
        '  *) echo "no shard $k in this submission" >&2; exit 2 ;;',
        "esac",
        "status=$?",
        f'exit_file={shlex.quote(str(sweep.root.resolve()))}/shard-"$k"/{submission}.exit',
        'echo "$status" > "$exit_file.part" && mv "$exit_file.part" "$exit_file"',
        'exit "$status"',
        "",
    ]
    return "\n".join(lines)

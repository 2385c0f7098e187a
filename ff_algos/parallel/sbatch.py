"""The SLURM job script of one world (the sibling of :mod:`ff_algos.sweep.script`'s array
script): ``--ntasks`` ranks over ``--nodes`` nodes, one ``srun`` step that runs
:mod:`ff_algos.parallel.entry` on every task. Each task takes its rank and the rendezvous from
SLURM's environment (:mod:`ff_algos.parallel.rendezvous`); ``--kill-on-bad-exit`` ends the step
when a task dies, so no rank waits for a dead one.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from ff_algos.sweep.script import SlurmOptions


def world_script(
    job_file: Path,
    ntasks: int,
    nodes: int,
    threads: int,
    checkout: Path,
    python: str,
    slurm: SlurmOptions,
    name: str = "ff-bench-world",
) -> str:
    """The script text: ``sbatch`` it (``--wait`` to block until the world ends)."""
    out = job_file.parent.resolve()
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --nodes={nodes}",
        f"#SBATCH --ntasks={ntasks}",
        f"#SBATCH --output={out / 'slurm-%j.log'}",
    ]
    options = SlurmOptions(
        partition=slurm.partition,
        time=slurm.time,
        account=slurm.account,
        constraint=slurm.constraint,
        gpus_per_task=slurm.gpus_per_task,
        cpus_per_task=slurm.cpus_per_task or threads,
        mem=slurm.mem,
        extra=slurm.extra,
    )
    lines += [f"#SBATCH {d}" for d in options.directives()]
    lines += [
        "set -euo pipefail",
        f"cd {shlex.quote(str(checkout.resolve()))}",
        f"export OMP_NUM_THREADS={threads}",
        f"export PYTHONPATH={shlex.quote(str(checkout.resolve()))}${{PYTHONPATH:+:$PYTHONPATH}}",
        f"srun --kill-on-bad-exit=1 {shlex.quote(python)} -m ff_algos.parallel.entry "
        f"{shlex.quote(str(job_file.resolve()))}",
        "",
    ]
    return "\n".join(lines)

"""The rank entry point: what every rank of a world runs, under the suite's local launcher
(:mod:`ff_algos.parallel.launch`), ``torchrun`` or ``srun``.

    srun --ntasks=2 python -m ff_algos.parallel.entry JOB.json
    torchrun --standalone --nproc-per-node=2 -m ff_algos.parallel.entry JOB.json

The job file is a :class:`~ff_algos.parallel.job.Job` as JSON (written by ``ff-bench``; see
:mod:`ff_algos.parallel.sbatch`); each rank leaves ``rank-K.pt`` in the job's folder.
"""

from __future__ import annotations

import faulthandler
import sys
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import record

from ff_algos.parallel.job import Job, write_result
from ff_algos.parallel.world import join, leave


@record
def run_rank(job: Job) -> None:
    """Join the world, run the job's runner on this rank, save its result, leave."""
    faulthandler.enable()  # a crash in native code leaves its Python stack in the rank's log
    runner = job.resolve()
    ctx = join(job)
    try:
        result = runner(job, ctx)
        write_result(job.out, ctx.rank, result)
        ctx.barrier()  # every rank's result is on disk before any rank leaves
    finally:
        leave()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ff_algos.parallel.entry JOB.json", file=sys.stderr)
        return 2
    run_rank(Job.from_json(Path(args[0]).read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

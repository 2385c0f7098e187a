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
import time
from pathlib import Path

import torch.distributed as dist
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
    except Exception as exc:
        if peer_lost(exc):
            # The launcher reports the first rank to exit; a peer's death is the cause, so
            # this rank gives the launcher time to see the peer first.
            time.sleep(PEER_GRACE_S)
        raise
    finally:
        leave()


PEER_GRACE_S = 2.0
"""How long a rank that lost a peer waits before it fails (the local launcher polls every
0.1 s)."""

_PEER_MARKERS = ("connection reset by peer", "connection closed by peer", "broken pipe")


def peer_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says that another rank went away (a secondary failure), not that this
    rank went wrong."""
    if isinstance(exc, dist.DistNetworkError):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _PEER_MARKERS)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ff_algos.parallel.entry JOB.json", file=sys.stderr)
        return 2
    run_rank(Job.from_json(Path(args[0]).read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A rank's place in its world: join the process group (rendezvous from torch's launcher or
SLURM, a timeout on every collective), pick its device and threads, and leave again.

:func:`join` is for a rank of a launched world; :func:`in_process` gives the same context to a
world of one that runs inside the calling process (no process group, no messages).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from ff_algos.method import TrainObserver
from ff_algos.parallel.job import Job
from ff_algos.parallel.links import Links
from ff_algos.parallel.meter import RankMeter
from ff_algos.parallel.progress import FileProgress, ObserverProgress, Progress
from ff_algos.parallel.rendezvous import torch_env

PROGRESS_FILE = "progress.txt"


@dataclass
class RankContext:
    """What a runner needs to know about its rank."""

    rank: int
    world: int
    device: torch.device
    backend: str  # "gloo", "nccl", or "none" (a world of one in process)
    meter: RankMeter
    links: Links | None  # None: no process group
    progress: Progress

    @property
    def first(self) -> bool:
        return self.rank == 0

    @property
    def last(self) -> bool:
        return self.rank == self.world - 1

    def barrier(self) -> None:
        """Wait for every rank (nothing in a world of one)."""
        if self.links is not None:
            if self.backend == "nccl":
                dist.barrier(device_ids=[self.device.index or 0])
            else:
                dist.barrier()


def join(job: Job) -> RankContext:
    """Join ``job``'s world as the rank the environment names (torch's launcher sets it; under
    ``srun`` it comes from SLURM's variables), with ``job.timeout_s`` on every collective."""
    os.environ.update(torch_env(os.environ))
    rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    torch.set_num_threads(job.threads)
    device = torch.device("cpu")
    if job.device == "cuda":
        device = torch.device("cuda", local % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=job.timeout_s)
    if job.backend == "nccl":
        dist.init_process_group("nccl", timeout=timeout, device_id=device)
    else:
        dist.init_process_group(job.backend, timeout=timeout)
    world = dist.get_world_size()
    meter = RankMeter(rank, device)
    progress = FileProgress(Path(job.out) / PROGRESS_FILE, active=rank == world - 1)
    return RankContext(rank, world, device, job.backend, meter, Links(meter), progress)


def leave() -> None:
    """Leave the process group (if this process joined one)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def in_process(device: torch.device, observer: TrainObserver) -> RankContext:
    """Rank 0 of a world of one, inside the calling process."""
    meter = RankMeter(0, device)
    return RankContext(0, 1, device, "none", meter, None, ObserverProgress(observer))

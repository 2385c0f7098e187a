"""What a world runs, written once by the parent and read by every rank (pickled by the local
launcher, JSON for ``srun``/``torchrun``), and where each rank leaves its result.

A job names its runner as ``"module:function"``; the function takes the job and the rank's
:class:`~ff_algos.parallel.world.RankContext` and returns the rank's result (tensors allowed),
which :func:`write_result` saves atomically as ``rank-K.pt`` in the job's folder.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ff_algos.parallel.errors import RankFailedError

# (the job, its rank's ff_algos.parallel.world.RankContext) -> the rank's result; the context
# is Any here so that this module, which world.py imports, imports nothing of world.py
Runner = Callable[["Job", Any], dict[str, Any]]


@dataclass(frozen=True)
class Job:
    """One world's work."""

    runner: str  # "module:function", called on every rank
    recipe: dict[str, Any]  # the recipe's fields (JSON-ready)
    data: str  # torch.save'd training (and test) rows, see save_data
    out: str  # folder of the ranks' results and the progress file
    world: int
    threads: int  # torch threads per rank
    backend: str  # "gloo" or "nccl" ("none" for a world of one in process)
    timeout_s: float  # every collective and the rendezvous
    device: str  # "cpu" or "cuda" (a rank on CUDA uses cuda:LOCAL_RANK)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)  # rows, classes, shapes

    def to_json(self) -> str:
        """The job as JSON (for a job file)."""
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Job:
        """The job of a job file."""
        return cls(**json.loads(text))

    def resolve(self) -> Runner:
        """The runner function."""
        module, _, name = self.runner.partition(":")
        fn: Runner = getattr(importlib.import_module(module), name)
        return fn


def save_data(path: Path, **tensors: torch.Tensor | None) -> None:
    """Save the rows the ranks read (on the CPU), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save({k: None if v is None else v.detach().cpu() for k, v in tensors.items()}, tmp)
    os.replace(tmp, path)


def load_data(job: Job, device: torch.device) -> dict[str, torch.Tensor]:
    """The job's rows on ``device`` (absent ones left out)."""
    saved = torch.load(job.data, map_location="cpu", weights_only=True)
    return {k: v.to(device) for k, v in saved.items() if v is not None}


def result_path(out: str | Path, rank: int) -> Path:
    return Path(out) / f"rank-{rank}.pt"


def write_result(out: str | Path, rank: int, result: dict[str, Any]) -> None:
    """Save one rank's result atomically (tensors moved to the CPU)."""
    path = result_path(out, rank)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(_to_cpu(result), tmp)
    os.replace(tmp, path)


def read_results(out: str | Path, world: int) -> list[dict[str, Any]]:
    """Every rank's result, rank 0 first; a missing one names its rank."""
    results: list[dict[str, Any]] = []
    for rank in range(world):
        path = result_path(out, rank)
        if not path.is_file():
            raise RankFailedError(f"rank {rank} of {world} left no result ({path}); see its log")
        results.append(torch.load(path, map_location="cpu", weights_only=False))
    return results


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value

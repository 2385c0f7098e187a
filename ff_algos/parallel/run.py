"""A parallel method's fit, in the calling process: check the world before any process starts,
hand the rows to the ranks through a file, train the serial references, run the world, and
return every rank's result.

The serial references are the same recipe trained in this process by the method's serial
runner (a world of one: no process group, no messages) with ``threads`` torch threads each;
the first is the run the world's weights are compared with. They are cached per recipe, data
and thread count within a process, so a grid over strategies trains each reference once. A
world of one runs in this process too, reporting its epochs straight to the observer; larger
worlds start through :func:`~ff_algos.parallel.launch.launch`.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ff_algos.data import LoadedDataset
from ff_algos.method import NullObserver, TrainObserver
from ff_algos.parallel.job import Job, read_results, save_data
from ff_algos.parallel.launch import launch
from ff_algos.parallel.layout import resolve_backend, resolve_start_method
from ff_algos.parallel.world import in_process

_SERIAL: dict[tuple[str, str, int, str], dict[str, Any]] = {}


@dataclass(frozen=True)
class WorldPlan:
    """What a parallel method asks to run."""

    runner: str  # "module:function" of the world's ranks
    serial_runner: str  # "module:function" of the serial references (a world of one)
    recipe: dict[str, Any]  # the recipe's fields
    world: int
    threads: int  # per rank
    backend: str  # requested: auto | gloo | nccl
    start_method: str  # requested: auto | fork | spawn
    timeout_s: float
    serial_threads: tuple[int, ...]  # references to train (first: compared with the world)
    serial_fields: tuple[str, ...]  # recipe fields that do not change the serial run
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorldRun:
    """What a world and its references produced."""

    ranks: list[dict[str, Any]]  # every rank's result, rank 0 first
    serial: dict[int, dict[str, Any]]  # threads -> the serial reference's result
    backend: str
    launcher: str


def run_world(plan: WorldPlan, data: LoadedDataset, observer: TrainObserver) -> WorldRun:
    """Run ``plan`` on ``data`` (training rows, and the test rows for pipelined prediction)."""
    device = data.train.x.device
    backend = resolve_backend(plan.backend, device, plan.world) if plan.world > 1 else "none"
    start = (
        resolve_start_method(plan.start_method, plan.threads) if plan.world > 1 else "in_process"
    )
    with tempfile.TemporaryDirectory(prefix="ff-bench-world-") as tmp:
        root = Path(tmp)
        data_file = write_rows(root / "data.pt", data)

        def job(runner: str, world: int, threads: int, out: Path, backend: str) -> Job:
            return job_for(plan, runner, world, threads, data_file, out, backend, device.type)

        serial: dict[int, dict[str, Any]] = {}
        for threads in dict.fromkeys(plan.serial_threads):
            key = (plan.serial_runner, _serial_key(plan), threads, _fingerprint(data))
            if key not in _SERIAL:
                ref = job(plan.serial_runner, 1, threads, root / f"serial-{threads}", "none")
                with torch_threads(threads):
                    _SERIAL[key] = ref.resolve()(ref, in_process(device, NullObserver()))
            serial[threads] = _SERIAL[key]
        world = job(plan.runner, plan.world, plan.threads, root / "world", backend)
        if plan.world == 1:
            with torch_threads(plan.threads):
                ranks = [world.resolve()(world, in_process(device, observer))]
            launcher = "in_process"
        else:
            launch(world, start, observer)
            ranks = read_results(world.out, plan.world)
            launcher = f"elastic_launch/{start}"
    return WorldRun(ranks, serial, backend, launcher)


def write_rows(path: Path, data: LoadedDataset) -> Path:
    """Save the training rows (and the test rows, for pipelined prediction) for the ranks."""
    save_data(
        path,
        x=data.train.x,
        y=data.train.y,
        test_x=data.test.x if len(data.test) else None,
        test_y=data.test.y if len(data.test) else None,
    )
    return path


def job_for(
    plan: WorldPlan,
    runner: str,
    world: int,
    threads: int,
    data_file: Path,
    out: Path,
    backend: str,
    device: str,
) -> Job:
    """The job of one world of ``plan`` (its result folder ``out`` is created)."""
    out.mkdir(parents=True, exist_ok=True)
    return Job(
        runner=runner,
        recipe=plan.recipe,
        data=str(data_file),
        out=str(out),
        world=world,
        threads=threads,
        backend=backend,
        timeout_s=plan.timeout_s,
        device=device,
        meta=plan.meta,
    )


def _serial_key(plan: WorldPlan) -> str:
    kept = {k: v for k, v in plan.recipe.items() if k not in plan.serial_fields}
    return json.dumps(kept, sort_keys=True, default=str)


def _fingerprint(data: LoadedDataset) -> str:
    """Which rows (cheaply): shapes and sums, so a cached reference is never reused on others."""
    x, y = data.train.x, data.train.y
    return f"{tuple(x.shape)}:{float(x.double().sum())}:{int(y.sum())}:{x.device}"


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch threads, then restore the caller's: a serial reference
    sums in its rank's order only with its rank's threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def forget_serial_references() -> None:
    """Drop the cached serial references (tests)."""
    _SERIAL.clear()

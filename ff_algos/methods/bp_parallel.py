"""Backprop across processes (``bp_parallel``): the baselines of ``ff_pipe`` on the same
network, ranks, data, epochs and optimiser.

The network is ``ff_pipe``'s MLP (``hidden`` layers with ReLU, on the same normalised images)
plus a linear head, trained end to end by cross-entropy with AdamW. ``strategy`` picks how the
world shares the work:

* ``gpipe``: pipeline parallelism with ``torch.distributed.pipelining.ScheduleGPipe``: the
  hidden layers split evenly over the ranks (the head on the last), each minibatch cut into
  ``microbatches``; all forwards, then all backwards, then one step: a bubble of about
  ``(world - 1) / (microbatches + world - 1)`` of every step;
* ``1f1b``: the same stages under ``Schedule1F1B`` (one forward, one backward in turn after the
  warm-up: the same bubble, fewer activations held);
* ``ddp``: data parallelism (``DistributedDataParallel``), ``batch/world`` rows per rank.

Each case also trains the recipe serially in one process (:mod:`ff_algos.parallel.bp_net`) and
records the speedup over it (``parallel``). Backprop's microbatched or sharded gradients differ
from the serial ones by rounding, so no bit-identity is claimed. The runners live in
:mod:`ff_algos.parallel` (``bp_net``, ``bp_pipeline``, ``bp_ddp``).
"""

from __future__ import annotations

import dataclasses
import itertools
import typing
from dataclasses import dataclass
from typing import Any, Literal

from ff_algos.data import DatasetInfo, LoadedDataset
from ff_algos.errors import RecipeError
from ff_algos.method import Fitted, FlopCount, RecipeMethod, TrainObserver
from ff_algos.methods.common.checks import check_run_fields, check_schedule
from ff_algos.methods.common.loop import SCHEDULES, Schedule
from ff_algos.methods.common.precision import eager_options
from ff_algos.parallel.bp_net import BPNet, initial_layers
from ff_algos.parallel.errors import WorldError
from ff_algos.parallel.job import Job
from ff_algos.parallel.layout import (
    BACKENDS,
    START_METHODS,
    Backend,
    StartMethod,
    check_ranks,
    split_layers,
)
from ff_algos.parallel.meter import CPU_BUSY
from ff_algos.parallel.run import WorldPlan, run_world
from ff_algos.parallel.section import Shape, section

Strategy = Literal["gpipe", "1f1b", "ddp"]
Serial = Literal["rank", "rank+world", "none"]
STRATEGIES = ("gpipe", "1f1b", "ddp")
SERIALS = ("rank", "rank+world", "none")
PARALLEL_FIELDS = (
    "strategy",
    "microbatches",
    "world",
    "backend",
    "start_method",
    "serial",
    "timeout_s",
    "name",
)
RUNNERS = {
    "gpipe": "ff_algos.parallel.bp_pipeline:train_pipeline_rank",
    "1f1b": "ff_algos.parallel.bp_pipeline:train_pipeline_rank",
    "ddp": "ff_algos.parallel.bp_ddp:train_ddp_rank",
}
SERIAL_RUNNER = "ff_algos.parallel.bp_net:train_serial_rank"


@dataclass(frozen=True)
class BPParallelRecipe:
    """Backprop over a world of ranks (see the module docstring)."""

    name: str = "quick"
    hidden: tuple[int, ...] = (500, 500, 500, 500)
    epochs: int = 3
    batch_size: int = 100
    lr: float = 1e-3  # AdamW
    weight_decay: float = 0.0
    schedule: Schedule = "cooldown"
    train_size: int | None = 10000
    seed: int = 0
    strategy: Strategy = "gpipe"
    microbatches: int = 4  # per minibatch (pipeline strategies)
    world: int = 2
    threads: int = 1
    backend: Backend = "auto"
    start_method: StartMethod = "auto"
    serial: Serial = "rank"
    timeout_s: float = 300.0
    nan_check_every: int = 5
    predict_batch_size: int = 10000
    precision: Literal["fp32"] = "fp32"
    compile: str = "none"

    method: typing.ClassVar[str] = "bp_parallel"

    def _products(self, info: DatasetInfo) -> tuple[int, int]:
        """Multiply-adds per row through every layer, and through the first one."""
        dims = (info.input_size, *self.hidden, info.num_classes)
        return sum(i * o for i, o in itertools.pairwise(dims)), dims[0] * dims[1]

    def rows_per_epoch(self, n_train: int) -> int:
        """Rows trained per epoch: whole minibatches only."""
        batch = min(self.batch_size, n_train)
        return (n_train // batch) * batch

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs: forward ``2·P`` per row; backward the weight gradients (``2·P``) and the
        input gradients of every layer above the first (``2·(P - P_1)``)."""
        p, p1 = self._products(info)
        rows = self.epochs * self.rows_per_epoch(n_train)
        return FlopCount(rows * 2 * p, rows * 2 * (2 * p - p1), 2 * p, 1)

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """FLOPs of the world's training (the serial references train as much again each)."""
        return {"train": self.flops(n_train, info).train}


QUICK = BPParallelRecipe()
TINY = BPParallelRecipe(
    name="tiny",
    hidden=(20, 20),
    epochs=2,
    batch_size=32,
    lr=3e-3,
    microbatches=2,
    train_size=512,
    nan_check_every=1,
    timeout_s=60.0,
)
PARALLEL = BPParallelRecipe(
    name="parallel",
    hidden=(1000, 1000, 1000, 1000),
    epochs=3,
    batch_size=200,
    train_size=20000,
    serial="rank+world",
)
RECIPES: dict[str, BPParallelRecipe] = {r.name: r for r in (QUICK, TINY, PARALLEL)}


def validate_bp_parallel(recipe: BPParallelRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe or world that cannot run."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    if not recipe.hidden or min(recipe.hidden) < 1:
        raise RecipeError(f"hidden={recipe.hidden!r} needs positive widths, e.g. 1000,1000")
    if recipe.train_size is not None and recipe.train_size < 1:
        raise RecipeError(f"train_size={recipe.train_size} must be positive or none (all rows)")
    check_ranks(recipe.world, recipe.threads, recipe.timeout_s)
    if recipe.strategy == "ddp":
        if recipe.batch_size % recipe.world:
            raise WorldError(
                f"strategy=ddp splits each minibatch over the ranks: batch_size="
                f"{recipe.batch_size} is not a multiple of world={recipe.world}"
            )
    else:
        split_layers(len(recipe.hidden), recipe.world)
        if recipe.microbatches < 1 or recipe.batch_size % recipe.microbatches:
            raise RecipeError(
                f"microbatches={recipe.microbatches} must be >= 1 and divide "
                f"batch_size={recipe.batch_size}"
            )
    check_run_fields(
        recipe,
        "bp_parallel (eager, fp32)",
        ("none",),
        {
            "schedule": SCHEDULES,
            "strategy": STRATEGIES,
            "backend": BACKENDS,
            "start_method": START_METHODS,
            "serial": SERIALS,
        },
        precisions=("fp32",),  # the ranks run float32 products only
    )


def world_plan(recipe: BPParallelRecipe, data: LoadedDataset) -> WorldPlan:
    """What ``recipe``'s world runs on ``data``."""
    validate_bp_parallel(recipe, data.info)
    n, info = len(data.train), data.info
    if n < 1:
        raise RecipeError("cannot train on an empty split")
    threads = {"rank": (recipe.threads,), "none": ()}.get(
        recipe.serial, (recipe.threads, recipe.threads * recipe.world)
    )
    one = recipe.world == 1 and recipe.strategy != "ddp"  # a pipeline of one stage is serial
    return WorldPlan(
        runner=SERIAL_RUNNER if one else RUNNERS[recipe.strategy],
        serial_runner=SERIAL_RUNNER,
        recipe={**dataclasses.asdict(recipe), "hidden": list(recipe.hidden)},
        world=recipe.world,
        threads=recipe.threads,
        backend=recipe.backend,
        start_method=recipe.start_method,
        timeout_s=recipe.timeout_s,
        serial_threads=threads,
        serial_fields=PARALLEL_FIELDS,
        meta={
            "num_classes": info.num_classes,
            "input_size": info.input_size,
            "n_train": n,
            "n_test": len(data.test),
        },
    )


def fit_bp_parallel(
    recipe: BPParallelRecipe, data: LoadedDataset, observer: TrainObserver
) -> Fitted[BPNet]:
    """Train ``recipe``'s world (and its serial references) on ``data``; gather the layers."""
    plan = world_plan(recipe, data)
    n = len(data.train)
    run = run_world(plan, data, observer)
    device = data.train.x.device
    probe = Job("", plan.recipe, "", "", 1, 1, "none", 1.0, device.type, plan.meta)
    layers = initial_layers(probe, device)
    state = {k: v for r in run.ranks for k, v in r["state"].items()}
    for k, layer in enumerate(layers, start=1):
        layer.load_state_dict(state[k])
    pipelined = recipe.strategy != "ddp"
    sched = {"gpipe": "ScheduleGPipe", "1f1b": "Schedule1F1B", "ddp": "DDP"}[recipe.strategy]
    shape = Shape(
        strategy=recipe.strategy,
        layers_per_rank=len(recipe.hidden) // recipe.world if pipelined else None,
        microbatches=recipe.microbatches if pipelined else 1,
        schedule=sched,
        busy_basis=CPU_BUSY if device.type == "cpu" else "not measured on CUDA",
        bytes_basis="activations forward and their gradients back, from the stage shapes"
        if pipelined
        else "ring all-reduce of the gradients: 2(w-1)/w x gradient bytes per step",
    )
    parallel = section(
        run, shape, recipe.threads, recipe.epochs, recipe.rows_per_epoch(n), weights_match=None
    )
    losses: dict[str, list[float]] = {}
    for r in run.ranks:
        losses.update(r["losses"])
    options: dict[str, Any] = {
        **eager_options(recipe.precision, recipe.compile),
        "optimizer": "adamw",
        "schedule": recipe.schedule,
        "backprop": "end_to_end",
        "parallel": parallel,
    }
    return Fitted(model=BPNet(layers, recipe.predict_batch_size), losses=losses, options=options)


METHOD = RecipeMethod(
    name="bp_parallel",
    description=(
        "backprop on ff_pipe's MLP across torch.distributed ranks: pipeline parallelism "
        "(GPipe, 1F1B) or data parallelism (DDP); ff_pipe's baselines"
    ),
    recipes=RECIPES,
    check=validate_bp_parallel,
    train=fit_bp_parallel,
)

"""Forward-Forward across processes (``ff_pipe``): class-group FF on an MLP, its layers split
over the ranks of a ``torch.distributed`` world as a layer pipeline (``strategy=pipe``), or the
whole network on every rank with the minibatch split between them (``strategy=ddp``).

**The objective** is :mod:`ff_algos.ff_group`'s: layer ``k`` computes ``h = relu(W_k u_k + b_k)``
on ``u_k``, the root-mean-square-normalised, detached output of layer ``k-1`` (``u_1`` the
normalised image); its units form one group per class and its loss is the cross-entropy of the
groups' mean squared activity over ``temperature``. Every layer's loss depends on its own
parameters only, and its input on nothing above it.

**The pipeline.** Rank ``r`` holds ``world / layers`` consecutive layers. For each minibatch it
receives ``(u, y)`` from rank ``r-1`` (rank 0 draws the rows), takes one AdamW step per layer on
its input (the all-layers-at-once schedule), and sends the normalised, detached output and the
labels on: activities flow one way only, there is no backward traffic, and after the fill every
rank works on a different minibatch at once. Because no layer's update needs anything from the
layers above, each layer sees exactly the inputs it sees in serial training; with one AdamW per
layer (Adam is elementwise, so this is the same as one for all) and the same threads per
process, **the weights after training are bit-identical to the same recipe trained serially in
one process** (``serial`` reference, compared in every case: ``parallel.weights_match_serial``).
The last partial minibatch of an epoch is dropped (every parallel method here does, so that they
all train on the same rows; pipelining backprop needs static shapes).

**Data parallelism** (``strategy=ddp``): every rank holds every layer and takes ``batch/world``
rows of each minibatch; DDP averages the gradients (an all-reduce per step), so the result
matches serial training up to rounding, not bitwise.

**Prediction** runs pipelined too: rank 0 streams chunks of test rows, each rank adds its
layers' class log-probabilities (``goodness_from`` on) to the running vote and passes the
activities on; the last rank scores them (``parallel.pipelined_test_accuracy``). The suite scores
the weights gathered into :class:`PipeFFNet` in its own process, with the same arithmetic.

**Launching.** The suite's fit starts the world with torchrun's ``elastic_launch``
(:mod:`ff_algos.parallel.launch`); ``srun``/``torchrun`` run the same ranks from a job file
(:mod:`ff_algos.parallel.entry`, :mod:`ff_algos.parallel.sbatch`). A case's training window
(``seconds.train``) holds its serial references and the world's start; its compute time
(``compute``, from the last rank's epoch ends) and ``parallel`` hold the world's epochs only.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import typing
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ff_algos.data import DatasetInfo, LoadedDataset
from ff_algos.errors import RecipeError
from ff_algos.method import Fitted, FlopCount, RecipeMethod, TrainObserver
from ff_algos.methods.common.checks import check_run_fields, check_schedule
from ff_algos.methods.common.goodness import (
    check_group_widths,
    goodness_loss,
    group_goodness,
    rms_normalise,
)
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import SCHEDULES, LossLog, Schedule, lr_factor
from ff_algos.methods.common.precision import eager_options
from ff_algos.methods.common.shift import translate
from ff_algos.parallel.errors import WorldError
from ff_algos.parallel.job import Job, load_data
from ff_algos.parallel.layout import (
    BACKENDS,
    START_METHODS,
    Backend,
    StartMethod,
    check_ranks,
    split_layers,
)
from ff_algos.parallel.meter import CPU_BUSY, CUDA_BUSY
from ff_algos.parallel.run import WorldPlan, run_world
from ff_algos.parallel.section import Shape, section
from ff_algos.parallel.world import RankContext

Strategy = Literal["pipe", "ddp"]
Serial = Literal["rank", "rank+world", "none"]
STRATEGIES = ("pipe", "ddp")
SERIALS = ("rank", "rank+world", "none")
# fields that change how the work is laid out, not what the serial run computes
PARALLEL_FIELDS = ("strategy", "world", "backend", "start_method", "serial", "timeout_s", "name")


@dataclass(frozen=True)
class PipeFFRecipe:
    """Class-group FF over a world of ranks (see the module docstring)."""

    name: str = "quick"
    hidden: tuple[int, ...] = (500, 500, 500, 500)  # each a multiple of the number of classes
    epochs: int = 3
    batch_size: int = 100
    lr: float = 1e-3  # AdamW, every layer
    weight_decay: float = 0.0
    schedule: Schedule = "cooldown"
    temperature: float = 0.1
    shift: int = 0  # each epoch, every image moved by up to ±shift pixels (rank 0)
    goodness_from: int = 1
    train_size: int | None = 10000
    seed: int = 0
    strategy: Strategy = "pipe"
    world: int = 2  # ranks
    threads: int = 1  # torch threads per rank (and of the serial reference it is compared with)
    backend: Backend = "auto"  # auto: nccl on CUDA, gloo on CPU
    start_method: StartMethod = "auto"  # auto: fork, spawn once this process initialised CUDA
    serial: Serial = "rank"  # serial references: threads per rank (+ world x threads), or none
    timeout_s: float = 300.0  # rendezvous and every collective
    nan_check_every: int = 5
    predict_batch_size: int = 10000
    precision: Literal["fp32"] = "fp32"
    compile: str = "none"

    method: typing.ClassVar[str] = "ff_pipe"

    def _products(self, info: DatasetInfo) -> int:
        dims = (info.input_size, *self.hidden)
        return sum(i * o for i, o in itertools.pairwise(dims))

    def rows_per_epoch(self, n_train: int) -> int:
        """Rows trained per epoch: whole minibatches only."""
        batch = min(self.batch_size, n_train)
        return (n_train // batch) * batch

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs of the world: per row and epoch a forward pass (``2·P``) and the weight
        gradients (``2·P``, no input gradients); prediction one forward pass."""
        forward = self.epochs * self.rows_per_epoch(n_train) * 2 * self._products(info)
        return FlopCount(forward, forward, 2 * self._products(info), 1)

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """FLOPs of the world's training (the serial references train as much again each)."""
        return {"train": self.flops(n_train, info).train}


QUICK = PipeFFRecipe()  # 4x500, 10000 rows, 3 epochs, 2 ranks (+ a serial run): about a minute
TINY = PipeFFRecipe(
    name="tiny",
    hidden=(20, 20),
    epochs=2,
    batch_size=32,
    lr=3e-3,
    shift=1,
    train_size=512,
    nan_check_every=1,
    timeout_s=60.0,
)
# PARALLEL: the question at a size where it is real (4x1000, 20000 rows, batch 200), for
# reports/cpu-2core-parallel/run.sh; serial references with one thread and the world's threads.
PARALLEL = PipeFFRecipe(
    name="parallel",
    hidden=(1000, 1000, 1000, 1000),
    epochs=3,
    batch_size=200,
    train_size=20000,
    serial="rank+world",
)
RECIPES: dict[str, PipeFFRecipe] = {r.name: r for r in (QUICK, TINY, PARALLEL)}


def validate_pipe_ff(recipe: PipeFFRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe or world that cannot run on ``info``;
    the backend is checked against the device when the case starts, before any process."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    check_group_widths(recipe.hidden, info, "1000,1000,1000,1000")
    if not (math.isfinite(recipe.temperature) and recipe.temperature > 0):
        raise RecipeError(f"temperature={recipe.temperature!r} must be positive, e.g. 0.1")
    if not (math.isfinite(recipe.weight_decay) and recipe.weight_decay >= 0):
        raise RecipeError(f"weight_decay={recipe.weight_decay!r} must be >= 0 (0: none)")
    _, h, w = info.image_shape
    if not 0 <= recipe.shift < min(h, w):
        raise RecipeError(f"shift={recipe.shift} must be 0..{min(h, w) - 1} pixels")
    if not 1 <= recipe.goodness_from <= len(recipe.hidden):
        raise RecipeError(
            f"goodness_from={recipe.goodness_from} must name a layer 1..{len(recipe.hidden)}"
        )
    if recipe.train_size is not None and recipe.train_size < 1:
        raise RecipeError(f"train_size={recipe.train_size} must be positive or none (all rows)")
    check_ranks(recipe.world, recipe.threads, recipe.timeout_s)
    if recipe.strategy == "pipe":
        split_layers(len(recipe.hidden), recipe.world)
    elif recipe.batch_size % recipe.world:
        raise WorldError(
            f"strategy=ddp splits each minibatch over the ranks: batch_size={recipe.batch_size} "
            f"is not a multiple of world={recipe.world}"
        )
    check_run_fields(
        recipe,
        "ff_pipe (eager, fp32)",
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


class PipeFFNet(nn.Module):
    """The trained layers, gathered from the ranks; :meth:`predict` sums the class
    log-probabilities of layers ``goodness_from..K`` (the method's own predictor)."""

    def __init__(
        self,
        layers: list[nn.Linear],
        num_classes: int,
        temperature: float,
        goodness_from: int,
        predict_batch_size: int,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.num_classes = num_classes
        self.temperature = temperature
        self.goodness_from = goodness_from
        self.predict_batch_size = max(1, predict_batch_size)

    @torch.no_grad()
    def votes(self, x: Tensor) -> Tensor:
        """Summed class log-probabilities (N, C) of inputs ``x`` (N, D), chunk by chunk."""
        parts: list[Tensor] = []
        for start in range(0, x.shape[0], self.predict_batch_size):
            u = rms_normalise(x[start : start + self.predict_batch_size])
            total = torch.zeros(u.shape[0], self.num_classes, device=x.device)
            layers = [
                (k, m) for k, m in enumerate(self.layers, start=1) if isinstance(m, nn.Linear)
            ]
            u = vote_layers(
                layers, u, total, self.num_classes, self.temperature, self.goodness_from
            )
            parts.append(total)
        return torch.cat(parts) if parts else x.new_zeros(0, self.num_classes)

    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64."""
        return self.votes(x).argmax(1)


def vote_layers(
    layers: list[tuple[int, nn.Linear]],
    u: Tensor,
    total: Tensor,
    num_classes: int,
    temperature: float,
    goodness_from: int,
) -> Tensor:
    """Add the votes of ``layers`` ((1-based index, layer) pairs) on input ``u`` to ``total``
    in place; the last layer's normalised output (the next rank's input)."""
    for k, layer in layers:
        h = torch.relu(layer(u))
        if k >= goodness_from:
            g = group_goodness(h, num_classes).float()
            total += F.log_softmax(g / temperature, dim=1)
        u = rms_normalise(h)
    return u


def _net(recipe: PipeFFRecipe, layers: list[nn.Linear], num_classes: int) -> PipeFFNet:
    return PipeFFNet(
        layers, num_classes, recipe.temperature, recipe.goodness_from, recipe.predict_batch_size
    )


def _recipe(job: Job) -> PipeFFRecipe:
    fields = {f.name for f in dataclasses.fields(PipeFFRecipe)}
    values = {k: v for k, v in job.recipe.items() if k in fields}
    values["hidden"] = tuple(values["hidden"])
    return PipeFFRecipe(**values)


def _initial_layers(recipe: PipeFFRecipe, input_size: int, device: torch.device) -> list[nn.Linear]:
    """Every layer's initial weights, drawn in order from ``seed`` (every rank draws them all
    and keeps its own, so the split never changes them)."""
    gen = torch.Generator().manual_seed(recipe.seed)
    dims = (input_size, *recipe.hidden)
    return [seeded_linear(i, o, gen, device) for i, o in itertools.pairwise(dims)]


def train_pipe_rank(job: Job, ctx: RankContext) -> dict[str, Any]:
    """One rank of the layer pipeline (a world of one: serial training of every layer)."""
    recipe, meta, device = _recipe(job), job.meta, ctx.device
    c, n = int(meta["num_classes"]), int(meta["n_train"])
    mine = split_layers(len(recipe.hidden), ctx.world)[ctx.rank]
    layers = _initial_layers(recipe, int(meta["input_size"]), device)
    own = [(k, layers[k - 1]) for k in mine]
    opts = [
        torch.optim.AdamW(layer.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        for _, layer in own
    ]
    logs = [LossLog(f"layer{k}", recipe.epochs, recipe.lr, device) for k in mine]
    batch = min(recipe.batch_size, n)
    steps = n // batch
    d_in = int(meta["input_size"]) if ctx.first else recipe.hidden[mine[0] - 2]
    d_out = recipe.hidden[mine[-1] - 1]
    links = ctx.links
    rows = load_data(job, device) if ctx.first else {}
    if ctx.first:
        x, y = rows["x"].float(), rows["y"]
        shuffle = torch.Generator(device=device).manual_seed(recipe.seed + 1)
        shifts = torch.Generator(device=device).manual_seed(recipe.seed + 3)
        x_hat = rms_normalise(x)
    ctx.barrier()
    ctx.meter.start()
    ctx.progress.start(recipe.epochs)
    for e in range(recipe.epochs):
        for opt in opts:
            for group in opt.param_groups:
                group["lr"] = recipe.lr * lr_factor(recipe.schedule, e, recipe.epochs)
        if ctx.first:
            if recipe.shift > 0:
                x_hat = rms_normalise(
                    translate(x, tuple(meta["image_shape"]), recipe.shift, shifts)
                )
            perm = torch.randperm(n, generator=shuffle, device=device)
        totals = torch.zeros(len(own), device=device)
        for s in range(steps):
            if ctx.first:
                idx = perm[s * batch : (s + 1) * batch]
                u, yb = x_hat[idx], y[idx]
            else:
                assert links is not None
                u, yb = links.recv(
                    [((batch, d_in), torch.float32), ((batch,), torch.int64)], ctx.rank - 1
                )
            for j, ((_, layer), opt) in enumerate(zip(own, opts, strict=True)):
                h = torch.relu(layer(u))
                loss = goodness_loss(h, yb, c, recipe.temperature)
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                totals[j] += loss.detach() * batch
                u = rms_normalise(h)  # detached: the next layer's input
            if not ctx.last:
                assert links is not None
                links.send([u, yb], ctx.rank + 1)
        for j, log in enumerate(logs):
            log.record(e, totals[j] / (steps * batch))
        if recipe.nan_check_every > 0 and (e + 1) % recipe.nan_check_every == 0:
            for log in logs:
                log.check(e + 1)
        ctx.progress.epoch_end(e)
        if ctx.world == 1:  # every layer is here: the network so far, for learning curves
            ctx.progress.offer(e, lambda: _net(recipe, layers, c))
    if links is not None:
        links.flush()
    ctx.barrier()
    ctx.meter.stop()
    for log in logs:
        log.check(recipe.epochs)
    ctx.progress.end()
    correct, tested = None, 0
    if ctx.links is not None:  # a world of one predicts as the gathered network does
        correct, tested = _predict_pipelined(recipe, job, ctx, own, rows, d_in, d_out)
    return {
        "report": ctx.meter.report(mine, recipe.epochs),
        "state": {k: layer.state_dict() for k, layer in own},
        "losses": {log.phase: log.host() for log in logs},
        "test_correct": correct,
        "test_rows": tested,
    }


def _predict_pipelined(
    recipe: PipeFFRecipe,
    job: Job,
    ctx: RankContext,
    own: list[tuple[int, nn.Linear]],
    rows: dict[str, Tensor],
    d_in: int,
    d_out: int,
) -> tuple[int | None, int]:
    """Score the test rows across the ranks: (correct on the last rank or None, rows)."""
    c, n_test = int(job.meta["num_classes"]), int(job.meta["n_test"])
    size, links, device = recipe.predict_batch_size, ctx.links, ctx.device
    correct = 0
    with torch.no_grad():
        for start in range(0, n_test, size):
            m = min(size, n_test - start)
            if ctx.first:
                u = rms_normalise(rows["test_x"][start : start + m].float())
                yb = rows["test_y"][start : start + m]
                total = torch.zeros(m, c, device=device)
            else:
                assert links is not None
                u_pad, total_pad, y_pad = links.recv(
                    [
                        ((size, d_in), torch.float32),
                        ((size, c), torch.float32),
                        ((size,), torch.int64),
                    ],
                    ctx.rank - 1,
                )
                u, total, yb = u_pad[:m], total_pad[:m].clone(), y_pad[:m]
            u = vote_layers(own, u, total, c, recipe.temperature, recipe.goodness_from)
            if ctx.last:
                correct += int((total.argmax(1) == yb).sum())
            else:
                assert links is not None
                pad = size - m
                links.send(
                    [F.pad(u, (0, 0, 0, pad)), F.pad(total, (0, 0, 0, pad)), F.pad(yb, (0, pad))],
                    ctx.rank + 1,
                )
    if links is not None:
        links.flush()
    return (correct if ctx.last else None), n_test


def train_ddp_rank(job: Job, ctx: RankContext) -> dict[str, Any]:
    """One rank of FF under data parallelism: every layer, ``batch/world`` rows of each
    minibatch, gradients averaged by DDP (one all-reduce per step)."""
    recipe, meta, device = _recipe(job), job.meta, ctx.device
    c, n = int(meta["num_classes"]), int(meta["n_train"])
    layers = _initial_layers(recipe, int(meta["input_size"]), device)
    net = _LayerLosses(layers, c, recipe.temperature)
    model: nn.Module = net
    if ctx.links is not None:
        ids = [device.index or 0] if device.type == "cuda" else None
        model = DistributedDataParallel(net, device_ids=ids)
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    rows = load_data(job, device)
    x, y = rows["x"].float(), rows["y"]
    shuffle = torch.Generator(device=device).manual_seed(recipe.seed + 1)
    shifts = torch.Generator(device=device).manual_seed(recipe.seed + 3)
    x_hat = rms_normalise(x)
    batch = min(recipe.batch_size, n)
    steps, share = n // batch, batch // ctx.world
    lo, hi = ctx.rank * share, (ctx.rank + 1) * share
    names = [f"layer{k}" for k in range(1, len(layers) + 1)]
    logs = [LossLog(name, recipe.epochs, recipe.lr, device) for name in names]
    ctx.barrier()
    ctx.meter.start()
    ctx.progress.start(recipe.epochs)
    for e in range(recipe.epochs):
        for group in opt.param_groups:
            group["lr"] = recipe.lr * lr_factor(recipe.schedule, e, recipe.epochs)
        if recipe.shift > 0:
            x_hat = rms_normalise(translate(x, tuple(meta["image_shape"]), recipe.shift, shifts))
        perm = torch.randperm(n, generator=shuffle, device=device)
        totals = torch.zeros(len(layers), device=device)
        for s in range(steps):
            idx = perm[s * batch : (s + 1) * batch][lo:hi]
            losses = model(x_hat[idx], y[idx])
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            totals += losses.detach() * share
        if ctx.links is not None:
            dist.all_reduce(totals)
        for k, log in enumerate(logs):
            log.record(e, totals[k] / (steps * batch))
        if recipe.nan_check_every > 0 and (e + 1) % recipe.nan_check_every == 0:
            for log in logs:
                log.check(e + 1)
        ctx.progress.epoch_end(e)
    ctx.barrier()
    ctx.meter.stop()
    ctx.progress.end()
    grad_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    ring = 2 * (ctx.world - 1) * grad_bytes * steps * recipe.epochs // ctx.world
    mine = tuple(range(1, len(layers) + 1))
    return {
        "report": ctx.meter.report(mine, recipe.epochs, payload_bytes=(ring, ring)),
        "state": {k: layer.state_dict() for k, layer in enumerate(layers, start=1)}
        if ctx.first
        else {},
        "losses": {log.phase: log.host() for log in logs},
        "test_correct": None,
        "test_rows": 0,
    }


class _LayerLosses(nn.Module):
    """Every layer's loss (K,) of a batch, each on its detached, normalised input (DDP needs
    the whole step inside one module's forward)."""

    def __init__(self, layers: list[nn.Linear], num_classes: int, temperature: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.num_classes = num_classes
        self.temperature = temperature

    def forward(self, u: Tensor, y: Tensor) -> Tensor:
        losses: list[Tensor] = []
        for layer in self.layers:
            h = torch.relu(layer(u))
            losses.append(goodness_loss(h, y, self.num_classes, self.temperature))
            u = rms_normalise(h)
        return torch.stack(losses)


RUNNERS = {
    "pipe": "ff_algos.methods.ff_pipe:train_pipe_rank",
    "ddp": "ff_algos.methods.ff_pipe:train_ddp_rank",
}


def world_plan(recipe: PipeFFRecipe, data: LoadedDataset) -> WorldPlan:
    """What ``recipe``'s world runs on ``data`` (the suite's fit and ``ff_algos.parallel.cluster``
    both start from it)."""
    validate_pipe_ff(recipe, data.info)
    n, info = len(data.train), data.info
    if n < 1:
        raise RecipeError("cannot train on an empty split")
    threads = {"rank": (recipe.threads,), "none": ()}.get(
        recipe.serial, (recipe.threads, recipe.threads * recipe.world)
    )
    return WorldPlan(
        runner=RUNNERS[recipe.strategy],
        serial_runner=RUNNERS["pipe"],
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
            "image_shape": list(info.image_shape),
            "n_train": n,
            "n_test": len(data.test),
        },
    )


def fit_pipe_ff(
    recipe: PipeFFRecipe, data: LoadedDataset, observer: TrainObserver
) -> Fitted[PipeFFNet]:
    """Train ``recipe``'s world (and its serial references) on ``data`` and gather the layers."""
    plan = world_plan(recipe, data)
    n, info = len(data.train), data.info
    run = run_world(plan, data, observer)
    state = {k: v for r in run.ranks for k, v in r["state"].items()}
    device = data.train.x.device
    layers = _initial_layers(recipe, info.input_size, device)
    for k, layer in enumerate(layers, start=1):
        layer.load_state_dict(state[k])
    net = PipeFFNet(
        layers,
        info.num_classes,
        recipe.temperature,
        recipe.goodness_from,
        recipe.predict_batch_size,
    )
    match: bool | None = None
    if recipe.strategy == "pipe" and recipe.threads in run.serial:
        ref = run.serial[recipe.threads]["state"]
        match = all(torch.equal(state[k][p], ref[k][p]) for k in ref for p in ref[k]) and set(
            ref
        ) == set(state)
    tested = run.ranks[-1]["test_rows"]
    correct = run.ranks[-1]["test_correct"]
    per_rank = len(recipe.hidden) // recipe.world if recipe.strategy == "pipe" else None
    shape = Shape(
        strategy=recipe.strategy,
        layers_per_rank=per_rank,
        microbatches=1,
        schedule="all layers at once" if recipe.strategy == "pipe" else "DDP",
        busy_basis=CUDA_BUSY if device.type == "cuda" else CPU_BUSY,
        bytes_basis="counted: every tensor sent and received"
        if recipe.strategy == "pipe"
        else "ring all-reduce of the gradients: 2(w-1)/w x gradient bytes per step",
    )
    parallel = section(
        run,
        shape,
        recipe.threads,
        recipe.epochs,
        recipe.rows_per_epoch(n),
        match,
        correct / tested if correct is not None and tested else None,
    )
    losses = {
        k: v
        for r in run.ranks[: 1 if recipe.strategy == "ddp" else None]
        for k, v in r["losses"].items()
    }
    options: dict[str, Any] = {
        **eager_options(recipe.precision, recipe.compile),
        "optimizer": "adamw",
        "schedule": recipe.schedule,
        "predictors": ["goodness"],
        "negative_data": False,
        "backprop": "none",
        "parallel": parallel,
    }
    return Fitted(model=net, losses=losses, options=options)


METHOD = RecipeMethod(
    name="ff_pipe",
    description=(
        "class-group FF across torch.distributed ranks: a layer pipeline (no backward traffic, "
        "weights bit-identical to serial) or data parallelism"
    ),
    recipes=RECIPES,
    check=validate_pipe_ff,
    train=fit_pipe_ff,
)

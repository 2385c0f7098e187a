"""How memory and time grow with depth and batch size: FF against backprop on plain MLPs.

The study's claim to test is "FF needs less memory": backprop keeps every layer's activations
until its backward pass, FF trains each layer on its detached input and can free them layer by
layer. Both are measured here on the plain algorithms (autograd, no fast paths, so that the
saved-for-backward count is the algorithm's and not an implementation's), MNIST-shaped inputs
(784 entries, 10 classes), ``depth`` hidden layers of ``width`` units, ``rows`` random rows per
epoch in batches of ``batch``:

* **FF step**: for each layer in turn, the label-overlaid positive and negative rows (2·batch)
  through the layer on the detached output of the one below, the goodness loss (mean of squared
  ReLU activities against ``threshold``), backward, an Adam step; then the next layer. What is
  saved for backward is released before the next layer runs.
* **backprop step**: the whole MLP plus a linear head, cross entropy, one backward, one Adam step.

Per configuration: the peak bytes saved for backward (exact, counted by
:class:`~ff_algos.telemetry.held_memory.HeldMemoryMeter` on one untimed step), parameters and
optimiser state, the device time of one epoch after a warm-up step, and the torch allocator
peak of that epoch on CUDA, above what was allocated when it started (the inputs, the network
and Adam's state: the point's own working memory, not what earlier points left behind). Every
CUDA call names the device (events recorded on its stream, the epoch run with it current), so
``cuda:N`` measures GPU N. The values of the data do not matter for either measure, so the
rows are random.
"""

from __future__ import annotations

import gc
import itertools
import time
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.methods.common.reference import plain_goodness, plain_layer, plain_loss
from ff_algos.record import ScalingPoint
from ff_algos.telemetry.held_memory import HeldMemoryMeter
from ff_algos.telemetry.sync import synchronize

Algorithm = Literal["ff", "bp"]
INPUTS, CLASSES = 784, 10


@dataclass(frozen=True)
class ScalingConfig:
    """One point of the scaling benchmark."""

    algorithm: Algorithm
    depth: int
    batch: int
    rows: int  # rows per timed epoch (a whole number of batches, at least one)
    width: int = 500
    lr: float = 1e-3
    threshold: float = 2.0
    seed: int = 0


class _Net:
    """``depth`` Linear layers (and for backprop a head), each with its own Adam (FF) or one
    Adam for all (backprop)."""

    def __init__(self, config: ScalingConfig, device: torch.device) -> None:
        gen = torch.Generator().manual_seed(config.seed)
        dims = [INPUTS, *([config.width] * config.depth)]
        self.layers = [_linear(i, o, gen, device) for i, o in itertools.pairwise(dims)]
        self.head = _linear(config.width, CLASSES, gen, device)
        self.config = config
        if config.algorithm == "ff":
            self.opts = [torch.optim.Adam(m.parameters(), lr=config.lr) for m in self.layers]
        else:
            params = [p for m in (*self.layers, self.head) for p in m.parameters()]
            self.opts = [torch.optim.Adam(params, lr=config.lr)]

    def step(self, x: Tensor, y: Tensor) -> None:
        if self.config.algorithm == "ff":
            self._ff_step(x, y)
        else:
            self._bp_step(x, y)

    def _ff_step(self, x: Tensor, y: Tensor) -> None:
        # positives carry the true label, negatives a shifted one: (2B, 784)
        wrong = (y + 1) % CLASSES
        u = torch.cat([_overlay(x, y), _overlay(x, wrong)])
        n = x.shape[0]
        for layer, opt in zip(self.layers, self.opts, strict=True):
            h = plain_layer(layer, u.detach())  # (2B, width)
            g = plain_goodness(h, "mean")
            loss = plain_loss(g[:n], g[n:], self.config.threshold)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            u = h.detach()

    def _bp_step(self, x: Tensor, y: Tensor) -> None:
        h = x
        for layer in self.layers:
            h = torch.relu(layer(h))
        loss = F.cross_entropy(self.head(h), y)
        self.opts[0].zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self.opts[0].step()


def _linear(i: int, o: int, gen: torch.Generator, device: torch.device) -> nn.Linear:
    layer = nn.Linear(i, o)
    bound = 1.0 / i**0.5
    with torch.no_grad():
        layer.weight.copy_(torch.empty(o, i).uniform_(-bound, bound, generator=gen))
        layer.bias.copy_(torch.empty(o).uniform_(-bound, bound, generator=gen))
    return layer.to(device)


def _overlay(x: Tensor, labels: Tensor) -> Tensor:
    """``x`` (B, 784) with its first 10 entries replaced by the one-hot label (B, 784)."""
    return torch.cat([F.one_hot(labels, CLASSES).to(x.dtype), x[:, CLASSES:]], dim=1)


def measure(config: ScalingConfig, device: torch.device) -> ScalingPoint:
    """Saved-for-backward peak, parameters and optimiser state, one epoch's device time and the
    allocator peak (CUDA) of one configuration (module doc)."""
    gen = torch.Generator(device=device).manual_seed(config.seed + 1)
    x = torch.randn(config.batch, INPUTS, generator=gen, device=device)
    y = torch.randint(0, CLASSES, (config.batch,), generator=gen, device=device)
    net = _Net(config, device)
    with HeldMemoryMeter() as meter:  # untimed: hooks run Python per saved tensor
        net.step(x, y)
    held = meter.result(config.batch)
    steps = max(1, config.rows // config.batch)
    synchronize(device)
    if device.type == "cuda":
        with torch.cuda.device(device):
            seconds, allocator_peak = _cuda_epoch(net, x, y, steps, device)
    else:
        t0 = time.perf_counter()
        for _ in range(steps):
            net.step(x, y)
        seconds = time.perf_counter() - t0
        allocator_peak = None
    return ScalingPoint(
        algorithm=config.algorithm,
        depth=config.depth,
        width=config.width,
        batch=config.batch,
        steps=steps,
        epoch_seconds=seconds,
        timer="cuda_event" if device.type == "cuda" else "perf_counter",
        saved_for_backward_peak_bytes=held.saved_for_backward_peak_bytes,
        parameter_bytes=sum(p.nbytes for m in (*net.layers, net.head) for p in m.parameters()),
        optimizer_state_bytes=sum(
            v.nbytes
            for opt in net.opts
            for state in opt.state.values()
            for v in state.values()
            if isinstance(v, Tensor)
        ),
        allocator_peak_bytes=allocator_peak,
        allocator_peak_basis="above_start",
        device=str(device),
    )


def _cuda_epoch(
    net: _Net, x: Tensor, y: Tensor, steps: int, device: torch.device
) -> tuple[float, int | None]:
    """One epoch's device time (CUDA events on ``device``'s stream) and its allocator peak above
    the bytes allocated when it started (garbage collected first, peak reset)."""
    gc.collect()
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device)
    stream = torch.cuda.current_stream(device)
    start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
    end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
    start.record(stream)
    for _ in range(steps):
        net.step(x, y)
    end.record(stream)
    synchronize(device)
    return start.elapsed_time(end) / 1000.0, torch.cuda.max_memory_allocated(device) - baseline


# depths, batch sizes and rows per epoch of the benchmark, by the session's recipe name
GRIDS: dict[str, tuple[tuple[int, ...], tuple[int, ...], int]] = {
    "tiny": ((2, 4), (32,), 64),
    "quick": ((2, 4, 8, 16), (256, 4096), 4096),
    "seed": ((2, 4, 8, 16), (256, 60000), 60000),
}


def configs(recipe_name: str, algorithms: tuple[str, ...]) -> list[ScalingConfig]:
    """The scaling configurations of a session (recipes without a grid of their own use
    ``quick``'s), for the algorithms among ``ff`` and ``bp`` that the session runs."""
    depths, batches, rows = GRIDS.get(recipe_name, GRIDS["quick"])
    chosen: list[Algorithm] = [a for a in ("ff", "bp") if a in algorithms]
    return [
        ScalingConfig(algorithm, depth, batch, max(rows, batch))
        for algorithm in chosen
        if algorithm in algorithms
        for batch in batches
        for depth in depths
    ]

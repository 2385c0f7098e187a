"""The backprop baselines' network: the parallel FF recipe's MLP (``hidden`` layers with ReLU)
plus a linear head, on the same root-mean-square-normalised images, cut into stages of
consecutive layers (the head goes with the last stage), and a serial runner that trains it in one
process (the reference every backprop strategy is compared with).

Every runner here reads the recipe's fields from the job (``hidden``, ``epochs``,
``batch_size``, ``lr``, ``weight_decay``, ``schedule``, ``seed``, ``nan_check_every``).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.methods.common.goodness import rms_normalise
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import LossLog, lr_factor
from ff_algos.parallel.job import Job, load_data
from ff_algos.parallel.world import RankContext


def initial_layers(job: Job, device: torch.device) -> list[nn.Linear]:
    """Every layer's initial weights, hidden layers then the head, drawn in order from the
    recipe's seed (each rank draws them all and keeps its own)."""
    gen = torch.Generator().manual_seed(int(job.recipe["seed"]))
    dims = (int(job.meta["input_size"]), *job.recipe["hidden"], int(job.meta["num_classes"]))
    return [seeded_linear(i, o, gen, device) for i, o in itertools.pairwise(dims)]


def stage(layers: list[nn.Linear], first: int, last: int, head: bool) -> nn.Sequential:
    """Hidden layers ``first..last`` (1-based) with ReLU, and the head when ``head``."""
    parts: list[nn.Module] = []
    for layer in layers[first - 1 : last]:
        parts += [layer, nn.ReLU()]
    if head:
        parts.append(layers[-1])
    return nn.Sequential(*parts)


class BPNet(nn.Module):
    """The trained network, gathered from the ranks."""

    def __init__(self, layers: list[nn.Linear], predict_batch_size: int) -> None:
        super().__init__()
        self.net = stage(layers, 1, len(layers) - 1, head=True)
        self.predict_batch_size = max(1, predict_batch_size)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64, chunk by chunk."""
        parts = [
            self.net(rms_normalise(x[s : s + self.predict_batch_size].float())).argmax(1)
            for s in range(0, x.shape[0], self.predict_batch_size)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64, device=x.device)


def set_lr(opt: torch.optim.Optimizer, job: Job, epoch: int) -> None:
    """The recipe's schedule for ``epoch``."""
    lr, epochs = float(job.recipe["lr"]), int(job.recipe["epochs"])
    for group in opt.param_groups:
        group["lr"] = lr * lr_factor(str(job.recipe["schedule"]), epoch, epochs)


def adamw(params: Any, job: Job) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        params, lr=float(job.recipe["lr"]), weight_decay=float(job.recipe["weight_decay"])
    )


def state_of(layers: list[nn.Linear], keep: list[int]) -> dict[int, dict[str, Tensor]]:
    """The state of layers ``keep`` (1-based; the head is ``len(layers)``)."""
    return {k: layers[k - 1].state_dict() for k in keep}


def train_serial_rank(job: Job, ctx: RankContext) -> dict[str, Any]:
    """The whole network trained by backprop in one process: the serial reference."""
    device = ctx.device
    epochs, check = int(job.recipe["epochs"]), int(job.recipe["nan_check_every"])
    layers = initial_layers(job, device)
    net = stage(layers, 1, len(layers) - 1, head=True)
    opt = adamw(net.parameters(), job)
    rows = load_data(job, device)
    x_hat, y = rms_normalise(rows["x"].float()), rows["y"]
    n = x_hat.shape[0]
    batch = min(int(job.recipe["batch_size"]), n)
    steps = n // batch
    shuffle = torch.Generator(device=device).manual_seed(int(job.recipe["seed"]) + 1)
    log = LossLog("train", epochs, float(job.recipe["lr"]), device)
    ctx.meter.start()
    ctx.progress.start(epochs)
    for e in range(epochs):
        set_lr(opt, job, e)
        perm = torch.randperm(n, generator=shuffle, device=device)
        total = torch.zeros((), device=device)
        for s in range(steps):
            idx = perm[s * batch : (s + 1) * batch]
            loss = F.cross_entropy(net(x_hat[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += loss.detach()
        log.record(e, total / steps)
        if check > 0 and (e + 1) % check == 0:
            log.check(e + 1)
        ctx.progress.epoch_end(e)
        ctx.progress.offer(e, lambda: BPNet(layers, int(job.recipe["predict_batch_size"])))
    ctx.meter.stop()
    log.check(epochs)
    ctx.progress.end()
    every = list(range(1, len(layers) + 1))
    return {
        "report": ctx.meter.report(tuple(every), epochs),
        "state": state_of(layers, every),
        "losses": {"train": log.host()},
    }

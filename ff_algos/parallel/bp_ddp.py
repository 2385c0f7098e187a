"""Backprop with data parallelism (``DistributedDataParallel``): every rank holds the whole
network and takes ``batch/world`` rows of each minibatch; DDP averages the gradients with an
all-reduce per step (bucketed, overlapping the backward pass), then every rank takes the same
AdamW step.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from ff_algos.methods.common.goodness import rms_normalise
from ff_algos.methods.common.loop import LossLog
from ff_algos.parallel.bp_net import adamw, initial_layers, set_lr, stage, state_of
from ff_algos.parallel.job import Job, load_data
from ff_algos.parallel.world import RankContext


def train_ddp_rank(job: Job, ctx: RankContext) -> dict[str, Any]:
    """One data-parallel rank."""
    device, recipe = ctx.device, job.recipe
    epochs, check = int(recipe["epochs"]), int(recipe["nan_check_every"])
    layers = initial_layers(job, device)
    net = stage(layers, 1, len(layers) - 1, head=True)
    ids = [device.index or 0] if device.type == "cuda" else None
    model = DistributedDataParallel(net, device_ids=ids) if ctx.links is not None else net
    opt = adamw(net.parameters(), job)
    rows = load_data(job, device)
    x_hat, y = rms_normalise(rows["x"].float()), rows["y"]
    n = x_hat.shape[0]
    batch = min(int(recipe["batch_size"]), n)
    steps, share = n // batch, batch // ctx.world
    lo, hi = ctx.rank * share, (ctx.rank + 1) * share
    shuffle = torch.Generator(device=device).manual_seed(int(recipe["seed"]) + 1)
    log = LossLog("train", epochs, float(recipe["lr"]), device)
    ctx.barrier()
    ctx.meter.start()
    ctx.progress.start(epochs)
    for e in range(epochs):
        set_lr(opt, job, e)
        perm = torch.randperm(n, generator=shuffle, device=device)
        total = torch.zeros((), device=device)
        for s in range(steps):
            idx = perm[s * batch : (s + 1) * batch][lo:hi]
            loss = F.cross_entropy(model(x_hat[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += loss.detach()
        if ctx.links is not None:
            dist.all_reduce(total)
        log.record(e, total / (steps * ctx.world))
        if check > 0 and (e + 1) % check == 0:
            log.check(e + 1)
        ctx.progress.epoch_end(e)
    ctx.barrier()
    ctx.meter.stop()
    log.check(epochs)
    ctx.progress.end()
    grad_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    ring = 2 * (ctx.world - 1) * grad_bytes * steps * epochs // ctx.world
    every = list(range(1, len(layers) + 1))
    return {
        "report": ctx.meter.report(tuple(every), epochs, payload_bytes=(ring, ring)),
        "state": state_of(layers, every) if ctx.first else {},
        "losses": {"train": log.host()} if ctx.first else {},
    }

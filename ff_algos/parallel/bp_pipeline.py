"""Backprop with pipeline parallelism (``torch.distributed.pipelining``, alpha): the network's
stages on consecutive ranks, each minibatch cut into microbatches and run by ``ScheduleGPipe``
(every forward, then every backward) or ``Schedule1F1B`` (one forward, one backward, after the
warm-up); one AdamW step per minibatch on every rank. Activations go forward and their gradients
come back, per microbatch.

Shapes are given to :class:`~torch.distributed.pipelining.PipelineStage` explicitly (no
shape-inference forward). Rank 0 and the last rank read the rows (the last one needs the labels)
and draw the same row order from the same seed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe

from ff_algos.methods.common.goodness import rms_normalise
from ff_algos.methods.common.loop import LossLog
from ff_algos.parallel.bp_net import adamw, initial_layers, set_lr, stage, state_of
from ff_algos.parallel.job import Job, load_data
from ff_algos.parallel.layout import split_layers
from ff_algos.parallel.world import RankContext

SCHEDULES = {"gpipe": ScheduleGPipe, "1f1b": Schedule1F1B}


def _loss(output: Tensor, target: Tensor) -> Tensor:
    return F.cross_entropy(output, target)


def train_pipeline_rank(job: Job, ctx: RankContext) -> dict[str, Any]:
    """One stage of the pipeline."""
    device, recipe = ctx.device, job.recipe
    epochs, check = int(recipe["epochs"]), int(recipe["nan_check_every"])
    micro = int(recipe["microbatches"])
    hidden = list(recipe["hidden"])
    n = int(job.meta["n_train"])
    batch = min(int(recipe["batch_size"]), n)
    steps, mb = n // batch, batch // micro
    mine = list(split_layers(len(hidden), ctx.world)[ctx.rank])
    layers = initial_layers(job, device)
    module = stage(layers, mine[0], mine[-1], head=ctx.last)
    d_in = int(job.meta["input_size"]) if ctx.first else hidden[mine[0] - 2]
    d_out = int(job.meta["num_classes"]) if ctx.last else hidden[mine[-1] - 1]
    pipe_stage = PipelineStage(
        module,
        ctx.rank,
        ctx.world,
        device,
        # the shapes' requires_grad tells the stage which gradients cross the boundary
        input_args=(torch.empty(mb, d_in, device=device, requires_grad=not ctx.first),),
        output_args=(torch.empty(mb, d_out, device=device, requires_grad=True),),
    )
    schedule = SCHEDULES[str(recipe["strategy"])](pipe_stage, n_microbatches=micro, loss_fn=_loss)
    opt = adamw(module.parameters(), job)
    rows = load_data(job, device) if ctx.first or ctx.last else {}
    if rows:
        x_hat, y = rms_normalise(rows["x"].float()), rows["y"]
        shuffle = torch.Generator(device=device).manual_seed(int(recipe["seed"]) + 1)
    log = LossLog("train", epochs, float(recipe["lr"]), device)
    ctx.barrier()
    ctx.meter.start()
    ctx.progress.start(epochs)
    for e in range(epochs):
        set_lr(opt, job, e)
        if rows:
            perm = torch.randperm(n, generator=shuffle, device=device)
        total = torch.zeros((), device=device)
        for s in range(steps):
            opt.zero_grad(set_to_none=True)
            if ctx.first:
                idx = perm[s * batch : (s + 1) * batch]
                schedule.step(x_hat[idx], return_outputs=False)
            elif ctx.last:
                idx = perm[s * batch : (s + 1) * batch]
                losses: list[Tensor] = []
                schedule.step(target=y[idx], losses=losses, return_outputs=False)
                total += torch.stack(losses).mean().detach()
            else:
                schedule.step(return_outputs=False)
            opt.step()
        if ctx.last:
            log.record(e, total / steps)
            if check > 0 and (e + 1) % check == 0:
                log.check(e + 1)
        ctx.progress.epoch_end(e)
    ctx.barrier()
    ctx.meter.stop()
    if ctx.last:
        log.check(epochs)
    ctx.progress.end()
    activations_in, activations_out = batch * d_in * 4, batch * d_out * 4
    sent = (0 if ctx.last else activations_out) + (0 if ctx.first else activations_in)
    received = (0 if ctx.first else activations_in) + (0 if ctx.last else activations_out)
    keep = mine + ([len(layers)] if ctx.last else [])
    return {
        "report": ctx.meter.report(
            tuple(keep), epochs, payload_bytes=(sent * steps * epochs, received * steps * epochs)
        ),
        "state": state_of(layers, keep),
        "losses": {"train": log.host()} if ctx.last else {},
    }

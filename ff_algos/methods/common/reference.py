"""The plain Forward-Forward of the reference study's code (mpezeshki/pytorch_forward_forward),
restated without any of the fast path's shortcuts: every layer normalises its input on every
call, positives and negatives run separately, autograd takes the gradients.

The fast path (:mod:`ff_algos.methods.common.overlay`) is held to this in the tests (float64),
timed against it by ``bench/ff_speed.py``, and the scaling benchmark trains its FF with these
layers and this loss. :func:`plain_train` draws initial weights, negatives and mini-batch orders
exactly as :func:`~ff_algos.methods.common.overlay.train_ff` documents, so both compute the same
function.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from ff_algos.method import NullObserver, TrainObserver
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.overlay import FFRecipe, negative_labels


def plain_overlay(x: Tensor, y: Tensor, num_classes: int, value: Tensor | float) -> Tensor:
    """``x`` (N, D) with its first ``num_classes`` entries zeroed and entry ``y[i]`` of row ``i``
    set to ``value`` (the reference uses ``x.max()`` of the whole split)."""
    out = x.clone()
    out[:, :num_classes] *= 0.0
    out[torch.arange(x.shape[0], device=x.device), y] = value
    return out


def plain_layer(layer: nn.Linear, x: Tensor) -> Tensor:
    """The reference layer: the input's direction, linear, ReLU (N, H)."""
    x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)
    return torch.relu(torch.mm(x_direction, layer.weight.T) + layer.bias.unsqueeze(0))


def plain_goodness(h: Tensor, kind: str) -> Tensor:
    """Per-row goodness (N,): mean (the reference) or sum of squared activities."""
    return h.pow(2).mean(1) if kind == "mean" else h.pow(2).sum(1)


def plain_loss(g_pos: Tensor, g_neg: Tensor, threshold: float) -> Tensor:
    """The reference loss ``log(1 + exp(cat([θ - g_pos, g_neg - θ]))).mean()``."""
    return torch.log(1 + torch.exp(torch.cat([-g_pos + threshold, g_neg - threshold]))).mean()


def plain_train(
    recipe: FFRecipe,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    observer: TrainObserver | None = None,
) -> list[nn.Linear]:
    """Greedy training: per layer its own Adam, separate positive and negative passes,
    autograd; reports the same phases (``layer1``...) and epochs as the fast path."""
    obs: TrainObserver = observer if observer is not None else NullObserver()
    init_gen = torch.Generator().manual_seed(recipe.seed)
    shuffle_gen = torch.Generator(device=x.device).manual_seed(recipe.seed + 1)
    y_neg = negative_labels(y, num_classes, recipe.negatives, init_gen)
    dims = (x.shape[1], *recipe.hidden)
    layers = [seeded_linear(i, o, init_gen, x.device, x.dtype) for i, o in itertools.pairwise(dims)]
    value = x.max()
    h_pos = plain_overlay(x, y, num_classes, value)
    h_neg = plain_overlay(x, y_neg, num_classes, value)
    n = x.shape[0]
    for k, layer in enumerate(layers, start=1):
        opt = torch.optim.Adam(layer.parameters(), lr=recipe.lr)
        obs.phase_start(f"layer{k}", recipe.epochs)
        for epoch in range(recipe.epochs):
            if recipe.batch_size is None or recipe.batch_size >= n:
                batches: list[Tensor | slice] = [slice(None)]
            else:
                perm = torch.randperm(n, generator=shuffle_gen, device=x.device)
                batches = [perm[s : s + recipe.batch_size] for s in range(0, n, recipe.batch_size)]
            for idx in batches:
                g_pos = plain_goodness(plain_layer(layer, h_pos[idx]), recipe.goodness)
                g_neg = plain_goodness(plain_layer(layer, h_neg[idx]), recipe.goodness)
                loss = plain_loss(g_pos, g_neg, recipe.threshold)
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
            obs.epoch_end(epoch)
        with torch.no_grad():
            h_pos, h_neg = plain_layer(layer, h_pos), plain_layer(layer, h_neg)
        obs.phase_end()
    return layers


@torch.no_grad()
def plain_goodness_per_label(
    layers: list[nn.Linear], x: Tensor, num_classes: int, kind: str
) -> Tensor:
    """Summed goodness (N, C): every candidate label overlaid, every layer run in full."""
    value = x.max()
    columns = []
    for label in range(num_classes):
        labels = torch.full((x.shape[0],), label, device=x.device)
        h = plain_overlay(x, labels, num_classes, value)
        total = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
        for layer in layers:
            h = plain_layer(layer, h)
            total += plain_goodness(h, kind)
        columns.append(total)
    return torch.stack(columns, 1)


def plain_predict(layers: list[nn.Linear], x: Tensor, num_classes: int, kind: str) -> Tensor:
    """Labels (N,) int64: the candidate label of highest summed goodness."""
    return plain_goodness_per_label(layers, x, num_classes, kind).argmax(1)

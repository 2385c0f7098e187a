"""Pieces of layer-local objectives: root-mean-square normalisation of a layer's input, and the
class-group goodness and its competitive loss (channel-wise competitive FF: ``ff_conv`` and
``ff_group``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError

EPS = 1e-12  # added to the mean square before the square root


def rms_normalise(x: Tensor) -> Tensor:
    """Each row of ``x`` (N, W) divided by ``sqrt(mean(row²) + EPS)`` (length sqrt(W) after),
    without gradient: one fused kernel (``F.rms_norm``)."""
    with torch.no_grad():
        return F.rms_norm(x.detach(), (x.shape[1],), eps=EPS)


def group_goodness(h: Tensor, num_classes: int) -> Tensor:
    """Goodness per class (m, C): the mean square of each class's channel group of the
    activity ``h`` (m, C·maps, H, W) (channel ``j`` belongs to class ``j // maps``); also the
    unit groups of an MLP layer's activity (m, C·s) (``ff_group``)."""
    return h.square().view(h.shape[0], num_classes, -1).mean(2)


def goodness_loss(h: Tensor, y: Tensor, num_classes: int, temperature: float) -> Tensor:
    """The channel-wise competitive loss of an activity ``h`` (m, C·maps, ...) with labels
    ``y`` (m,): cross-entropy of the group goodness over ``temperature``, in float32 at least
    (a bf16 activity under autocast is widened; float64 stays float64)."""
    g = group_goodness(h, num_classes)
    return F.cross_entropy(g.to(torch.promote_types(g.dtype, torch.float32)) / temperature, y)


def check_group_widths(hidden: tuple[int, ...], info: DatasetInfo, example: str) -> None:
    """Raise :class:`RecipeError` (one line) unless ``hidden`` has at least one layer and every
    layer's width is a positive multiple of the classes (one unit group per class);
    ``example`` is the ``hidden`` value suggested for an empty one."""
    c = info.num_classes
    if not hidden:
        raise RecipeError(f"hidden=() has no layer; e.g. --set hidden={example}")
    for k, width in enumerate(hidden, start=1):
        if width < c or width % c:
            raise RecipeError(
                f"layer {k} has {width} units, not a positive multiple of {info.name}'s {c} "
                f"classes (one group per class); e.g. --set hidden={c * max(1, width // c)}"
            )

"""Pieces of layer-local objectives: root-mean-square normalisation of a layer's input, and the
class-group goodness and its competitive loss (channel-wise competitive FF: ``ff_conv`` and
``ff_group``)."""

from __future__ import annotations

from typing import Any

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
    unit groups of an MLP layer's activity (m, C·s) (``ff_group``). A channels-last ``h`` is
    summed per channel first (the same value up to rounding; no copy to a contiguous layout)."""
    m = h.shape[0]
    if h.is_contiguous():
        return h.square().view(m, num_classes, -1).mean(2)
    squares = h.square()
    # sum(()) would reduce every dim: an (m, C·s) activity has no positions to sum
    per_channel = squares.sum(tuple(range(2, h.dim()))) if h.dim() > 2 else squares  # (m, C·maps)
    return per_channel.view(m, num_classes, -1).sum(2) / (h[0].numel() // num_classes)


class _ReluGroupGoodness(torch.autograd.Function):
    """``relu`` then :func:`group_goodness` with one hand-written backward (see
    :func:`relu_group_goodness`)."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
        h = torch.relu(z)
        ctx.save_for_backward(h)
        ctx.mark_non_differentiable(h)
        ctx.set_materialize_grads(False)  # h never has a gradient: no zeros the size of h
        ctx.num_classes = num_classes
        return group_goodness(h, num_classes), h

    @staticmethod
    def backward(
        ctx: Any, grad_g: Tensor | None, _grad_h: Tensor | None
    ) -> tuple[Tensor | None, None]:
        if grad_g is None:
            return None, None
        (h,) = ctx.saved_tensors
        m, c = h.shape[0], ctx.num_classes
        n = h.numel() // (m * c)  # entries per class group and sample
        # autograd's chain (mean: grad_g / n; square: times 2h; relu: zero where h = 0) is
        # h * (2 * grad_g / n) in one pass: doubling is exact, so every element rounds alike
        scale = (grad_g / n) * 2  # (m, C)
        if h.is_contiguous():
            return (h.view(m, c, -1) * scale[:, :, None]).view_as(h), None
        per_channel = scale.repeat_interleave(h.shape[1] // c, dim=1)  # (m, C·maps)
        return h * per_channel.view(m, -1, *([1] * (h.dim() - 2))), None


def relu_group_goodness(z: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """The goodness per class (m, C) of the activity ``h = relu(z)`` (:func:`group_goodness`),
    and ``h`` itself (m, C·maps, ...) without gradient. The same values and gradient as
    ``group_goodness(torch.relu(z), C)``, bit for bit, from one pass over ``h`` in backward
    instead of four (the square's, the mean's, the relu's and a broadcast), and nothing saved
    but ``h``: ``h`` is for the next layer's detached input, never for a gradient."""
    g, h = _ReluGroupGoodness.apply(z, num_classes)
    return g, h


def competitive_loss(g: Tensor, y: Tensor, temperature: float) -> Tensor:
    """Cross-entropy of the goodness per class ``g`` (m, C) over ``temperature`` against labels
    ``y`` (m,), in float32 at least (a bf16 goodness under autocast is widened; float64 stays
    float64)."""
    return F.cross_entropy(g.to(torch.promote_types(g.dtype, torch.float32)) / temperature, y)


def goodness_loss(h: Tensor, y: Tensor, num_classes: int, temperature: float) -> Tensor:
    """The channel-wise competitive loss of an activity ``h`` (m, C·maps, ...) with labels
    ``y`` (m,): :func:`competitive_loss` of its group goodness."""
    return competitive_loss(group_goodness(h, num_classes), y, temperature)


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

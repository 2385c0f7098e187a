"""Forward-Forward (Hinton 2022) as in the reference study's code base
(mpezeshki/pytorch_forward_forward), with the same mathematics computed with less work.

The reference, per layer: the input's direction ``x / (‖x‖₂ + 1e-4)`` (row-wise), a linear map
with bias, ReLU. The label is *overlaid* on the input: the first ``C`` entries (``C`` classes) of
each flattened row are set to 0 and entry ``label`` to the maximum of the whole batch tensor. For
RGB images flattened channel-first those are the first ``C`` pixels of the red channel's top
row. Positive data carry each image's own label; negative data the same images with the labels
randomly permuted, drawn once before layer 1 and kept for every layer (``negatives="wrong_label"``
draws a label different from the true one instead). A layer's goodness is the mean (or, with
``goodness="sum"``, the sum) of its squared activities; its loss is the mean over positives and
negatives of ``softplus(θ - g_pos)`` and ``softplus(g_neg - θ)``. Layers are trained greedily, each
with its own Adam, layer ``k+1`` on layer ``k``'s detached outputs. Prediction overlays every
candidate label, sums the goodness of all layers and takes the argmax.

What is computed once instead of every epoch or every label (same function up to rounding):

* A layer's inputs do not change during its training, so their direction is computed once.
* Layer 1's positive and negative inputs differ only in the label entries, and every overlaid
  row has the same norm whatever the label (one entry set to the same value). So with
  ``b`` the image with its label entries zeroed, ``s = 1 / (‖overlay‖ + 1e-4)`` and ``v`` the
  overlay value, ``W·x_label·s = W·(b·s) + v·s·W[:, label]``: one product of the image part per
  epoch, shared by positives and negatives, plus a rank-``C`` product for the labels (a one-hot
  matrix times ``W[:, :C]``). The weight gradient of that expression needs one product of the
  image part too (the positive and negative pre-activation gradients are summed first).
* The loss's gradient is written out (``_loss_to_grad``) rather than taken by autograd, so each
  step is four matrix products (layer 1: forward, weight gradient, and the two small label
  products) plus a few in-place passes over reused buffers; no fresh large tensors per step and
  no host synchronisation. The tests check loss, gradients, training and prediction against
  autograd on a plain implementation of the reference, in float64.
* Prediction shares the same image product across all ``C`` candidate labels, so layer 1 costs
  about one forward pass instead of ``C``. Deeper layers see different inputs for every label
  (the ReLU does not commute with the label term), so they still run once per label.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo, LoadedDataset
from ff_algos.errors import RecipeError
from ff_algos.method import Fitted, FlopCount, NullObserver, TrainObserver
from ff_algos.methods.common.checks import check_schedule
from ff_algos.methods.common.compiled import Compile, EpochRunner
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import Epochs, run_epochs
from ff_algos.methods.common.precision import Precision, precision_scope, product_dtype

Goodness = Literal["mean", "sum"]
Negatives = Literal["permute", "wrong_label"]


@dataclass(frozen=True)
class FFRecipe:
    """Forward-Forward: greedy layer-wise training with the label overlaid on the input."""

    name: str = "seed"
    hidden: tuple[int, ...] = (500, 500)
    epochs: int = 1000  # per layer
    batch_size: int | None = None  # None: the whole training split as one batch
    lr: float = 0.03
    threshold: float = 2.0
    goodness: Goodness = "mean"
    negatives: Negatives = "permute"
    train_size: int | None = None  # None: the whole training split
    seed: int = 0
    nan_check_every: int = 50  # epochs between non-finite-loss checks (one host sync each)
    predict_batch_size: int = 10000  # rows per prediction chunk
    precision: Precision = "fp32"  # fp32 | tf32 (CUDA) | bf16 products, fp32 master weights
    compile: Compile = "none"  # none | inductor (torch.compile) | cudagraphs (CUDA)

    method: ClassVar[str] = "ff"

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs: per layer and epoch, positive and negative forward passes (2·N rows) and the
        weight gradient (inputs are detached, so no input gradient); prediction runs every layer
        once per candidate label."""
        layers = list(itertools.pairwise((info.input_size, *self.hidden)))
        per_row = sum(2 * i * o for i, o in layers)
        forward = self.epochs * 2 * n_train * per_row
        return FlopCount(
            forward=forward,
            backward=forward,
            predict=info.num_classes * per_row,
            predict_samples=1,
        )

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """Training FLOPs the fast path really executes (matrix products
        only), per layer: layer 1 computes the image product once for positives and negatives
        (forward and weight gradient) plus rank-C label products; deeper layers run as the plain
        algorithm; each layer but the last runs forward once more to hand its outputs on."""
        (d, h1), *rest = itertools.pairwise((info.input_size, *self.hidden))
        forward = [2 * n_train * d * h1 + 2 * (2 * n_train) * info.num_classes * h1]
        forward += [2 * (2 * n_train) * i * o for i, o in rest]
        last = len(forward) - 1
        return {
            f"layer{k + 1}": self.epochs * 2 * f + (f if k < last else 0)
            for k, f in enumerate(forward)
        }


FF_RECIPES: dict[str, FFRecipe] = {
    "seed": FFRecipe(name="seed"),
    "quick": FFRecipe(name="quick", epochs=20, batch_size=250, train_size=10000),
    "tiny": FFRecipe(name="tiny", hidden=(64, 64), epochs=5, batch_size=256, train_size=1024),
    # matched: quick's FF under its own name, for budget-matched comparisons
    "matched": FFRecipe(name="matched", epochs=20, batch_size=250, train_size=10000),
}


EPS = 1e-4  # added to the norm before dividing, as in the reference


def overlay(x: Tensor, labels: Tensor, num_classes: int, value: Tensor | float) -> Tensor:
    """The reference label overlay: a copy of ``x`` (N, D) with entries ``[:, :num_classes]``
    set to 0 and entry ``labels[i]`` of row ``i`` set to ``value`` (the reference uses the maximum
    of the whole batch tensor, ``x.max()``)."""
    out = x.clone()
    out[:, :num_classes] = 0
    out[torch.arange(x.shape[0], device=x.device), labels] = value
    return out


def direction(x: Tensor) -> Tensor:
    """Each row divided by its L2 norm plus 1e-4 (the reference's layer input)."""
    out: Tensor = x / (x.norm(2, 1, keepdim=True) + EPS)
    return out


def goodness(h: Tensor, kind: Goodness = "mean") -> Tensor:
    """Per-row goodness of activities ``h`` (N, H): mean (reference) or sum of squares."""
    return h.pow(2).mean(1) if kind == "mean" else h.pow(2).sum(1)


def goodness_scale(width: int, kind: Goodness) -> float:
    """Factor turning a layer's sum of squares into its goodness: 1/width for the mean."""
    return 1.0 / width if kind == "mean" else 1.0


def ff_loss(g_pos: Tensor, g_neg: Tensor, threshold: float) -> Tensor:
    """The reference loss ``log(1 + exp(cat([θ - g_pos, g_neg - θ]))).mean()``, via softplus."""
    return F.softplus(torch.cat([threshold - g_pos, g_neg - threshold])).mean()


@dataclass(frozen=True)
class FactoredOverlay:
    """Overlaid rows ``direction(overlay(x, label))`` written as ``base + coef · e_label``."""

    base: Tensor  # (N, D): x with its first C entries zeroed, divided by the overlaid norm + eps
    coef: Tensor  # (N,): the overlay value divided by the same


def factor_overlay(x: Tensor, num_classes: int, value: Tensor) -> FactoredOverlay:
    """Factor the direction of ``x`` (N, D) overlaid with any label and overlay value ``value``
    (0-d) into a label-free part and the label entry's coefficient."""
    base = x.clone()
    base[:, :num_classes] = 0
    # ‖overlay(x, c)‖² = ‖base‖² + value², the same for every label c
    scale = 1.0 / (torch.sqrt(base.pow(2).sum(1) + value * value) + EPS)  # (N,)
    return FactoredOverlay(base=base.mul_(scale[:, None]), coef=value * scale)


class _Buffers:
    """Reusable scratch tensors, one per name, grown on demand. Fresh large CPU tensors cost
    page faults on every allocation, more than the element-wise work done in them."""

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self._device, self._dtype = device, dtype
        self._flat: dict[str, Tensor] = {}

    def take(self, name: str, *shape: int, dtype: torch.dtype | None = None) -> Tensor:
        """A contiguous tensor of ``shape`` (contents undefined), in ``dtype`` if given."""
        numel = math.prod(shape)
        dtype = dtype or self._dtype
        key = f"{name}:{dtype}"
        flat = self._flat.get(key)
        if flat is None or flat.numel() < numel:
            flat = torch.empty(numel, device=self._device, dtype=dtype)
            self._flat[key] = flat
        return flat[:numel].view(shape)

    def low(self, name: str, src: Tensor, dtype: torch.dtype | None) -> Tensor:
        """``src`` cast to ``dtype`` into a reused buffer; ``src`` itself when no cast is needed."""
        if dtype is None or dtype == src.dtype:
            return src
        return self.take(name, *src.shape, dtype=dtype).copy_(src)


def _product_into(a: Tensor, b: Tensor, out: Tensor, buf: _Buffers, bias: Tensor | None) -> Tensor:
    """``out = a @ b (+ bias)`` with ``out`` in the storage dtype, whatever the operands' dtype:
    low-precision operands give a low-precision product that is widened into ``out``."""
    if a.dtype == out.dtype:
        if bias is None:
            return torch.mm(a, b, out=out)
        return torch.addmm(bias, a, b, out=out)
    low = torch.mm(a, b, out=buf.take("product", a.shape[0], b.shape[1], dtype=a.dtype))
    if bias is None:
        return out.copy_(low)
    return torch.add(bias, low, out=out)


def _loss_to_grad(h: Tensor, threshold: float, scale: float) -> Tensor:
    """The FF loss of activities ``h`` (2n, H), positives then negatives; overwrites ``h`` with
    d loss / d preactivation.

    With ``g = scale·‖h‖²`` (``scale`` = 1/H for the mean goodness, 1 for the sum) and margins
    ``m = θ - g`` (positives), ``g - θ`` (negatives): loss = mean softplus(m), so
    d loss/d g = ∓sigmoid(m)/2n and d g/d z = 2·scale·h (zero where the ReLU is off, as ``h``).
    """
    rows = h.shape[0]
    n = rows // 2
    g = torch.linalg.vector_norm(h, dim=1).square_().mul_(scale)  # (2n,)
    margin = g.sub_(threshold)
    margin[:n].neg_()
    loss = F.softplus(margin).mean()
    coef = torch.sigmoid(margin).mul_(2.0 * scale / rows)  # (2n,)
    coef[:n].neg_()
    h.mul_(coef[:, None])
    return loss


def _loss_and_grad(h: Tensor, threshold: float, scale: float) -> tuple[Tensor, Tensor]:
    """:func:`_loss_to_grad` without side effects, for ``torch.compile`` to fuse: the loss and
    d loss / d preactivation (2n, H) of activities ``h`` (2n, H), positives then negatives."""
    rows = h.shape[0]
    g = h.pow(2).sum(1).mul(scale).view(2, rows // 2)
    margin = torch.stack([threshold - g[0], g[1] - threshold])  # (2, n)
    loss = F.softplus(margin).mean()
    coef = torch.sigmoid(margin) * (2.0 * scale / rows)
    coef = torch.stack([-coef[0], coef[1]]).view(rows, 1)
    return loss, h * coef


def _goodness_and_direction(h: Tensor, scale: float) -> Tensor:
    """Goodness ``scale·‖h‖²`` (N,) of activities ``h`` (N, H); turns ``h`` into its direction
    (the next layer's input) in place, reusing the norm."""
    norm: Tensor = torch.linalg.vector_norm(h, dim=1)
    h.div_(norm[:, None] + EPS)
    return norm.square_().mul_(scale)


class _PairInputs(Protocol):
    """A layer's fixed positive and negative inputs during its training."""

    rows: int

    def step(self, layer: nn.Linear, idx: Tensor | None, threshold: float, scale: float) -> Tensor:
        """Loss of rows ``idx`` (all when ``None``); sets the layer's ``.grad`` to its gradient."""
        ...

    def grads(
        self, idx: Tensor | None, weight: Tensor, bias: Tensor, threshold: float, scale: float
    ) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`step` as a pure function of the weights, returning (loss, d weight, d bias):
        the form ``torch.compile`` fuses best (no output buffers, no side effects)."""
        ...

    def outputs(self, layer: nn.Linear) -> Tensor:
        """The layer's activities (2N, H) for all positives, then all negatives."""
        ...


def _set_grad(param: Tensor, grad: Tensor) -> None:
    if param.grad is None or param.grad.data_ptr() != grad.data_ptr():
        param.grad = grad


class _OverlaidPairs:
    """Layer 1's inputs: the same images overlaid with the positive and the negative labels,
    sharing one product of the image part (see the module docstring). With ``mm_dtype`` the
    image part is stored in that dtype and its two large products run on it; the label
    products, the loss and the gradients' accumulation stay in the storage dtype."""

    def __init__(
        self,
        x: Tensor,
        y_pos: Tensor,
        y_neg: Tensor,
        num_classes: int,
        value: Tensor,
        mm_dtype: torch.dtype | None = None,
    ) -> None:
        f = factor_overlay(x, num_classes, value)
        self.rows = x.shape[0]
        self.num_classes = num_classes
        self.mm_dtype = mm_dtype
        self.base = f.base if mm_dtype is None else f.base.to(mm_dtype)  # (N, D)
        labels = torch.stack([y_pos, y_neg])  # (2, N)
        # (2, N, C): the label entries' coefficients, positives then negatives
        self.lab = F.one_hot(labels, num_classes).to(x.dtype).mul_(f.coef[None, :, None])
        self.buf = _Buffers(x.device, x.dtype)

    def _rows(self, idx: Tensor | None) -> tuple[Tensor, Tensor]:
        if idx is None:
            return self.base, self.lab.view(-1, self.num_classes)
        m = idx.shape[0]
        base_out = self.buf.take("base", m, *self.base.shape[1:], dtype=self.base.dtype)
        base = torch.index_select(self.base, 0, idx, out=base_out)
        lab = torch.index_select(self.lab, 1, idx, out=self.buf.take("lab", 2, m, self.num_classes))
        return base, lab.view(2 * m, self.num_classes)

    def _preacts(self, layer: nn.Linear, base: Tensor, lab: Tensor, z: Tensor) -> Tensor:
        """Pre-activations (2m, H) into ``z``; returns the shared image part (m, H)."""
        m, hidden = base.shape[0], layer.out_features
        weight = self.buf.low("weight", layer.weight, self.mm_dtype)
        shared = self.buf.take("shared", m, hidden)
        _product_into(base, weight.t(), shared, self.buf, layer.bias)
        torch.mm(lab, layer.weight[:, : self.num_classes].t(), out=z)
        z.view(2, m, hidden).add_(shared)
        return shared

    @torch.no_grad()
    def step(self, layer: nn.Linear, idx: Tensor | None, threshold: float, scale: float) -> Tensor:
        base, lab = self._rows(idx)
        m, hidden, c = base.shape[0], layer.out_features, self.num_classes
        z = self.buf.take("z", 2 * m, hidden)
        shared = self._preacts(layer, base, lab, z)
        loss = _loss_to_grad(z.relu_(), threshold, scale)  # z is now d loss / d z
        d_shared = torch.sum(z.view(2, m, hidden), 0, out=shared)  # (m, H)
        d_low = self.buf.low("d_shared", d_shared, self.mm_dtype)
        grad_w = self.buf.take("grad_w", *layer.weight.shape)
        _product_into(d_low.t(), base, grad_w, self.buf, None)
        grad_w[:, :c].add_(torch.mm(lab.t(), z).t())  # (C, H) product: the fast layout
        grad_b = torch.sum(d_shared, 0, out=self.buf.take("grad_b", hidden))
        _set_grad(layer.weight, grad_w)
        _set_grad(layer.bias, grad_b)
        return loss

    @torch.no_grad()
    def grads(
        self, idx: Tensor | None, weight: Tensor, bias: Tensor, threshold: float, scale: float
    ) -> tuple[Tensor, Tensor, Tensor]:
        c = self.num_classes
        base = self.base if idx is None else self.base[idx]  # (m, D)
        lab = self.lab if idx is None else self.lab[:, idx]  # (2, m, C)
        m = base.shape[0]
        shared = torch.mm(base, weight.to(base.dtype).t()).to(weight.dtype) + bias  # (m, H)
        z = torch.matmul(lab, weight[:, :c].t()) + shared  # (2, m, H)
        loss, dz = _loss_and_grad(z.relu().view(2 * m, -1), threshold, scale)
        d_shared = dz.view(2, m, -1).sum(0)  # (m, H)
        grad_w = torch.mm(d_shared.to(base.dtype).t(), base).to(weight.dtype)
        d_label = torch.mm(dz.t(), lab.reshape(2 * m, c))  # (H, C)
        grad_w = torch.cat([grad_w[:, :c] + d_label, grad_w[:, c:]], 1)
        return loss, grad_w, d_shared.sum(0)

    @torch.no_grad()
    def outputs(self, layer: nn.Linear) -> Tensor:
        base, lab = self._rows(None)
        z = torch.empty(2 * self.rows, layer.out_features, device=lab.device, dtype=lab.dtype)
        self._preacts(layer, base, lab, z)
        return z.relu_()


class _PlainPairs:
    """A deeper layer's inputs: the previous layer's activities (2N, H) for positives, then
    negatives, turned into their directions once (in place; stored in ``mm_dtype`` if given)."""

    def __init__(self, h_both: Tensor, mm_dtype: torch.dtype | None = None) -> None:
        self.rows = h_both.shape[0] // 2
        self.mm_dtype = mm_dtype
        both = h_both.div_(h_both.norm(2, 1, keepdim=True).add_(EPS))  # (2N, H)
        self.both = both if mm_dtype is None else both.to(mm_dtype)
        self.buf = _Buffers(h_both.device, h_both.dtype)

    def _rows(self, idx: Tensor | None) -> Tensor:
        if idx is None:
            return self.both
        both_idx = torch.cat([idx, idx + self.rows])
        out = self.buf.take("rows", both_idx.shape[0], self.both.shape[1], dtype=self.both.dtype)
        return torch.index_select(self.both, 0, both_idx, out=out)

    @torch.no_grad()
    def step(self, layer: nn.Linear, idx: Tensor | None, threshold: float, scale: float) -> Tensor:
        rows = self._rows(idx)
        weight = self.buf.low("weight", layer.weight, self.mm_dtype)
        z = self.buf.take("z", rows.shape[0], layer.out_features)
        _product_into(rows, weight.t(), z, self.buf, layer.bias)
        loss = _loss_to_grad(z.relu_(), threshold, scale)  # z is now d loss / d z
        grad_w = self.buf.take("grad_w", *layer.weight.shape)
        _product_into(self.buf.low("dz", z, self.mm_dtype).t(), rows, grad_w, self.buf, None)
        grad_b = torch.sum(z, 0, out=self.buf.take("grad_b", layer.out_features))
        _set_grad(layer.weight, grad_w)
        _set_grad(layer.bias, grad_b)
        return loss

    @torch.no_grad()
    def grads(
        self, idx: Tensor | None, weight: Tensor, bias: Tensor, threshold: float, scale: float
    ) -> tuple[Tensor, Tensor, Tensor]:
        rows = self.both if idx is None else self.both[torch.cat([idx, idx + self.rows])]
        z = torch.mm(rows, weight.to(rows.dtype).t()).to(weight.dtype) + bias  # (2m, H)
        loss, dz = _loss_and_grad(z.relu(), threshold, scale)
        grad_w = torch.mm(dz.to(rows.dtype).t(), rows).to(weight.dtype)
        return loss, grad_w, dz.sum(0)

    @torch.no_grad()
    def outputs(self, layer: nn.Linear) -> Tensor:
        weight = layer.weight if self.mm_dtype is None else layer.weight.to(self.mm_dtype)
        z = torch.empty(
            self.both.shape[0], layer.out_features, device=weight.device, dtype=layer.weight.dtype
        )
        return _product_into(self.both, weight.t(), z, self.buf, layer.bias).relu_()


class FFNet(nn.Module):
    """A trained Forward-Forward network; :meth:`predict` classifies by goodness."""

    def __init__(
        self,
        layers: list[nn.Linear],
        num_classes: int,
        goodness_kind: Goodness = "mean",
        predict_batch_size: int = 10000,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.num_classes = num_classes
        self.goodness_kind: Goodness = goodness_kind
        self.predict_batch_size = max(1, predict_batch_size)

    def linear_layers(self) -> list[nn.Linear]:
        """The layers, first to last."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    @torch.no_grad()
    def goodness_per_label(self, x: Tensor) -> Tensor:
        """Summed goodness of all layers (N, C) for every candidate label overlaid on ``x``.

        The overlay value is the maximum of all of ``x`` (as the reference's one whole-split
        batch), whatever the chunk size.
        """
        first, *rest = self.linear_layers()
        c, kind = self.num_classes, self.goodness_kind
        value = x.max()
        out = torch.empty(x.shape[0], c, device=x.device, dtype=x.dtype)
        buf = _Buffers(x.device, x.dtype)
        for start in range(0, x.shape[0], self.predict_batch_size):
            chunk = x[start : start + self.predict_batch_size]
            n = chunk.shape[0]
            f = factor_overlay(chunk, c, value)
            shared = torch.addmm(first.bias, f.base, first.weight.t())  # (n, H1), for all labels
            for label in range(c):
                # layer 1 for this label: the shared image part plus the label column
                h = buf.take("h1", n, first.out_features)
                torch.addr(shared, f.coef, first.weight[:, label], out=h)
                g = _goodness_and_direction(h.relu_(), goodness_scale(first.out_features, kind))
                for k, layer in enumerate(rest, start=2):
                    h_in, h = h, buf.take(f"h{k}", n, layer.out_features)
                    torch.addmm(layer.bias, h_in, layer.weight.t(), out=h)
                    g += _goodness_and_direction(
                        h.relu_(), goodness_scale(layer.out_features, kind)
                    )
                out[start : start + n, label] = g
        return out

    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64: the candidate label of highest total goodness."""
        return self.goodness_per_label(x).argmax(1)


def layer_features(layers: Iterable[nn.Module], x: Tensor, value: Tensor, c: int) -> Tensor:
    """Length-normalised activities of every layer (N, sum of widths) for ``x`` (N, D) with the
    neutral label overlay (``value / c`` on each of the ``c`` label entries); differentiable."""
    h = x.clone()
    h[:, :c] = value / c
    feats = []
    for layer in layers:
        h = direction(torch.relu(layer(direction(h))))
        feats.append(h)
    return torch.cat(feats, 1)


def neutral_features(net: FFNet, x: Tensor, value: Tensor, chunk: int = 10000) -> Tensor:
    """:func:`layer_features` of a trained FF network, without gradients, in row chunks."""
    layers = net.linear_layers()
    with torch.no_grad():
        parts = [
            layer_features(layers, x[start : start + chunk], value, net.num_classes)
            for start in range(0, x.shape[0], chunk)
        ]
    width = sum(layer.out_features for layer in layers)
    return torch.cat(parts) if parts else x.new_empty(0, width)


def negative_labels(y: Tensor, num_classes: int, kind: str, generator: torch.Generator) -> Tensor:
    """Labels for the negative data, drawn once on the CPU from ``generator``: a random
    permutation of ``y`` (``"permute"``, the reference; about 1/C keep the true label) or a
    uniformly drawn different label (``"wrong_label"``)."""
    n = y.shape[0]
    if kind == "permute":
        return y[torch.randperm(n, generator=generator).to(y.device)]
    if kind == "wrong_label":
        shift = torch.randint(1, num_classes, (n,), generator=generator).to(y.device)
        return (y + shift) % num_classes
    raise RecipeError(f"unknown negatives {kind!r}; choose permute or wrong_label")


def check_ff(recipe: FFRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe that cannot train on ``info``."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    validate_ff(recipe, info.input_size, info.num_classes)


def validate_ff(recipe: FFRecipe, input_size: int, num_classes: int) -> None:
    """Raise :class:`RecipeError` for a recipe that cannot run on this data."""
    if not recipe.hidden or min(recipe.hidden) < 1:
        raise RecipeError(f"hidden={recipe.hidden!r}: FF needs at least one layer, e.g. 500,500")
    if num_classes >= input_size:
        raise RecipeError(
            f"{num_classes} classes cannot be overlaid on {input_size} inputs; "
            "FF needs more input entries than classes"
        )
    if recipe.batch_size is not None and recipe.batch_size < 1:
        raise RecipeError("batch_size must be a positive integer or none (full batch)")
    if not recipe.lr > 0:
        raise RecipeError(f"lr={recipe.lr!r} must be positive")
    if recipe.goodness not in ("mean", "sum"):
        raise RecipeError(f"unknown goodness {recipe.goodness!r}; choose mean or sum")


def train_ff(
    recipe: FFRecipe,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    observer: TrainObserver | None = None,
) -> Fitted[FFNet]:
    """Train a Forward-Forward network on ``x`` (N, D) and labels ``y`` (N,), on their device and
    in their dtype (matrix products in ``recipe.precision``). The same seed gives bit-identical
    results on the CPU."""
    validate_ff(recipe, x.shape[1], num_classes)
    obs: TrainObserver = observer if observer is not None else NullObserver()
    device = x.device
    mm_dtype = product_dtype(recipe.precision)
    init_gen = torch.Generator().manual_seed(recipe.seed)
    shuffle_gen = torch.Generator(device=device).manual_seed(recipe.seed + 1)
    # negatives first, then layers in order: layer k's training does not depend on later layers
    y_neg = negative_labels(y, num_classes, recipe.negatives, init_gen)
    dims = (x.shape[1], *recipe.hidden)
    layers = [seeded_linear(i, o, init_gen, device, x.dtype) for i, o in itertools.pairwise(dims)]
    compile_seconds = 0.0
    with precision_scope(recipe.precision, device):
        inputs: _PairInputs = _OverlaidPairs(x, y, y_neg, num_classes, x.max(), mm_dtype)
        losses: dict[str, list[float]] = {}
        for k, layer in enumerate(layers, start=1):
            fitter = _LayerFit(layer, inputs, recipe, shuffle_gen)
            compile_seconds += fitter.prepare()
            # the network trained so far predicts with the layers it has
            so_far = functools.partial(
                FFNet, layers[:k], num_classes, recipe.goodness, recipe.predict_batch_size
            )
            plan = Epochs(f"layer{k}", recipe.epochs, recipe.lr, "constant", recipe.nan_check_every)
            # the next layer's input (this layer's outputs) is computed in the last epoch
            hand_on = functools.partial(inputs.outputs, layer) if k < len(layers) else None
            logged, outputs = run_epochs(plan, fitter.epoch, obs, so_far, device, hand_on=hand_on)
            losses.update(logged)
            del fitter, hand_on  # the last references to this layer's inputs, buffers and state
            if outputs is not None:
                inputs = _PlainPairs(outputs, mm_dtype)
    model = FFNet(layers, num_classes, recipe.goodness, recipe.predict_batch_size)
    options: dict[str, object] = {
        "compile": recipe.compile,
        "compiled": recipe.compile == "inductor",
        "cuda_graphs": recipe.compile == "cudagraphs",
        "compile_seconds": compile_seconds,
        "precision": recipe.precision,
        "product_dtype": str(mm_dtype or x.dtype).removeprefix("torch."),
        "predict_dtype": str(x.dtype).removeprefix("torch."),
        "goodness": recipe.goodness,
        "negatives": recipe.negatives,
        "input_pipeline": "tensor",
        "shared_label_product": True,
        "fused_adam": device.type == "cuda",
    }
    return Fitted(model=model, losses=losses, options=options)


def fit_ff(recipe: FFRecipe, data: LoadedDataset, observer: TrainObserver) -> Fitted[FFNet]:
    """:func:`train_ff` on ``data.train`` (the method contract's ``fit``)."""
    return train_ff(recipe, data.train.x, data.train.y, data.info.num_classes, observer)


class _LayerFit:
    """One layer's training on its fixed inputs: the step, the epoch and how it is executed.

    The step and epoch closures capture what they use, never ``self``: a fitter and everything it
    holds (the layer's inputs, buffers, optimiser state, a captured graph) are freed as soon as
    the last reference to it goes, without waiting for a garbage collection."""

    def __init__(
        self,
        layer: nn.Linear,
        inputs: _PairInputs,
        recipe: FFRecipe,
        shuffle_gen: torch.Generator,
    ) -> None:
        device = layer.weight.device
        self.layer, self.shuffle_gen = layer, shuffle_gen
        opt = torch.optim.Adam(
            layer.parameters(),
            lr=recipe.lr,
            fused=device.type == "cuda" or None,
            capturable=recipe.compile == "cudagraphs",
        )
        rows = self.rows = inputs.rows
        batch = recipe.batch_size if recipe.batch_size is not None else rows
        batch = self.batch = min(batch, rows)
        self.full_batch = batch >= rows
        scale = goodness_scale(layer.out_features, recipe.goodness)
        threshold, inductor = recipe.threshold, recipe.compile == "inductor"
        compiled = torch.compile(inputs.grads, dynamic=False) if inductor else inputs.grads

        def step(idx: Tensor | None) -> Tensor:
            if inductor:
                loss, layer.weight.grad, layer.bias.grad = compiled(
                    idx, layer.weight, layer.bias, threshold, scale
                )
            else:
                loss = inputs.step(layer, idx, threshold, scale)
            opt.step()
            return loss

        def epoch(perm: Tensor | None) -> Tensor:
            if perm is None:
                return step(None)
            starts = range(0, rows, batch)
            total = torch.zeros((), device=device, dtype=layer.weight.dtype)
            for start in starts:
                total += step(perm[start : start + batch])
            return total / len(starts)

        self.runner = EpochRunner(epoch, recipe.compile, list(layer.parameters()), [opt], device)

    def prepare(self) -> float:
        """Compile or capture the epoch; seconds spent (0 when eager)."""
        device = self.layer.weight.device
        warm = None if self.full_batch else torch.arange(self.rows, device=device)
        return self.runner.prepare(warm)

    def epoch(self, epoch: int) -> Tensor:
        """One epoch (the body of the epoch loop): a fresh row order unless full batch; no host
        sync."""
        perm = None
        if not self.full_batch:
            device = self.layer.weight.device
            perm = torch.randperm(self.rows, generator=self.shuffle_gen, device=device)
        return self.runner(perm)

"""Class-group Forward-Forward on an MLP (``ff_group``): every layer's units split into one group
per class, goodness per group, each layer trained by its own loss on its detached input; no
negative data, no label in the input, no backprop anywhere (not even a head).

This is the fully connected form of channel-wise competitive FF (Papachristodoulou et al., AAAI
2024; ``ff_conv`` is the convolutional form), written afresh for this suite.

**Goodness per class.** Layer ``k`` computes ``h = relu(W_k u_k + b_k)`` (m, H_k) with
``H_k = C·s_k``; unit ``j`` belongs to class ``j // s_k``, and the goodness of class ``c`` is the
mean squared activity of its group, ``g_c = mean_{j ∈ group c} h_j²`` (m, C). The layer's loss is
the cross-entropy of ``g / T`` (``T = temperature``) against the true label: raising the true
class's goodness is FF's positive phase, lowering the others' (in proportion to their softmax
weight) its negative phase, and one forward pass of the image serves both, where label-overlay FF
(``ff``, ``ff_strong``) needs a pass per label it tries.

**Locality.** ``u_1 = x̂`` (the image divided by its root mean square) and ``u_{k+1} = h_k /
sqrt(mean(h_k²) + ε)``, detached: layer ``k``'s loss depends on layer ``k``'s parameters only. All
layers train at once from one ``backward`` of the summed losses (each gradient stays inside its
layer: no input gradients are computed), one Adam(W) step updates them all.

**Data.** With ``shift > 0`` every training image is moved by its own random offset in
``[-shift, shift]²`` pixels each epoch (border replicated;
:func:`ff_algos.methods.common.shift.translate`).
Without it the layers fit the training rows almost exactly within a few epochs; with it they see
a new version of every digit each epoch, which is what lets the long recipe generalise.

**Prediction.** One forward pass: the class with the highest summed log-softmax of ``g / T`` over
layers ``goodness_from..K`` (each layer votes with its own class probabilities).

The measured runs of these recipes are in ``reports/cpu-2core-strong-group/`` and the README.
"""

from __future__ import annotations

import itertools
import math
import typing
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError
from ff_algos.method import (
    Fitted,
    FlopCount,
    NullObserver,
    RecipeMethod,
    TrainObserver,
)
from ff_algos.methods.common.checks import check_run_fields, check_schedule
from ff_algos.methods.common.goodness import (
    check_group_widths,
    competitive_loss,
    group_goodness,
    relu_group_goodness,
    rms_normalise,
)
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import SCHEDULES, Epochs, Schedule, minibatch_epoch, run_epochs
from ff_algos.methods.common.precision import (
    Precision,
    eager_options,
    precision_scope,
    product_dtype,
)
from ff_algos.methods.common.shift import translate

COMPILES = ("none",)  # eager only


@dataclass(frozen=True)
class GroupFFRecipe:
    """Class-group FF on an MLP (see the module docstring)."""

    name: str = "strong"
    hidden: tuple[int, ...] = (1000, 1000, 1000)  # each a multiple of the number of classes
    epochs: int = 30
    batch_size: int | None = 100  # None: the whole training split as one batch
    lr: float = 1e-3  # AdamW, every layer
    weight_decay: float = 0.0  # AdamW's decoupled decay
    schedule: Schedule = "cooldown"  # constant | cooldown (linear decay over the second half)
    temperature: float = 0.1  # logits = group goodness / temperature
    shift: int = 2  # each epoch, every image moved by up to ±shift pixels (0: off)
    goodness_from: int = 1  # first layer (1-based) whose vote predict() sums
    train_size: int | None = None  # None: the whole training split
    seed: int = 0
    nan_check_every: int = 5  # epochs between non-finite-loss checks (one host sync each)
    predict_batch_size: int = 10000  # rows per prediction chunk
    precision: Precision = "fp32"  # fp32 | bf16 autocast, fp32 master weights
    compile: str = "none"  # none only (eager)

    method: typing.ClassVar[str] = "ff_group"

    def _products(self, info: DatasetInfo) -> int:
        """Multiply-adds of one row through every layer: ``P = Σ in·out``."""
        dims = (info.input_size, *self.hidden)
        return sum(i * o for i, o in itertools.pairwise(dims))

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs: per row and epoch a forward pass (``2·P``) and the weight gradients
        (``2·P``; inputs are detached, so no input gradients); prediction is one forward pass."""
        p = self._products(info)
        forward = self.epochs * n_train * 2 * p
        return FlopCount(forward=forward, backward=forward, predict=2 * p, predict_samples=1)

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """Training FLOPs executed (matrix products only): the plain algorithm's, one phase."""
        return {"train": self.flops(n_train, info).train}


# STRONG: 3x1000 (100 units per class on 10 classes), 30 epochs of shifted images, batch 100;
# for FashionMNIST's centred items run it with --set shift=0 (module docstring). About 10
# minutes per run on one CPU thread.
STRONG = GroupFFRecipe(name="strong")
# QUICK: for CI on 2 CPU cores: 10000 rows, 3 epochs, no shifts (seconds).
QUICK = GroupFFRecipe(
    name="quick", hidden=(500, 500), epochs=3, shift=0, train_size=10000, nan_check_every=3
)
# TINY: for the tests.
TINY = GroupFFRecipe(
    name="tiny",
    hidden=(20, 20),
    epochs=2,
    batch_size=32,
    lr=3e-3,
    shift=1,
    train_size=512,
    nan_check_every=1,
)
RECIPES: dict[str, GroupFFRecipe] = {r.name: r for r in (STRONG, QUICK, TINY)}


def validate_group_ff(recipe: GroupFFRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line: what is wrong and how to fix it) for a recipe that
    cannot train on ``info``."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    check_group_widths(recipe.hidden, info, "1000,1000,1000")
    if not (math.isfinite(recipe.temperature) and recipe.temperature > 0):
        raise RecipeError(f"temperature={recipe.temperature!r} must be positive, e.g. 0.1")
    if not (math.isfinite(recipe.weight_decay) and recipe.weight_decay >= 0):
        raise RecipeError(f"weight_decay={recipe.weight_decay!r} must be >= 0 (0: none)")
    _, h, w = info.image_shape
    if not 0 <= recipe.shift < min(h, w):
        raise RecipeError(
            f"shift={recipe.shift} must be 0..{min(h, w) - 1} pixels for {h}x{w} images; "
            "--set shift=0 turns it off"
        )
    if not 1 <= recipe.goodness_from <= len(recipe.hidden):
        raise RecipeError(
            f"goodness_from={recipe.goodness_from} must name a layer 1..{len(recipe.hidden)} "
            f"of hidden={recipe.hidden!r}; e.g. --set goodness_from=1"
        )
    if recipe.train_size is not None and recipe.train_size < 1:
        raise RecipeError(f"train_size={recipe.train_size} must be positive or none (all rows)")
    check_run_fields(recipe, "ff_group (eager only)", COMPILES, {"schedule": SCHEDULES})


class GroupFFNet(nn.Module):
    """The trained layers; :meth:`predict` sums every voting layer's class log-probabilities."""

    def __init__(
        self,
        layers: list[nn.Linear],
        num_classes: int,
        temperature: float,
        goodness_from: int,
        predict_batch_size: int = 10000,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.num_classes = num_classes
        self.temperature = temperature
        self.goodness_from = goodness_from
        self.predict_batch_size = max(1, predict_batch_size)

    def linear_layers(self) -> list[nn.Linear]:
        """The layers, first to last."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    @torch.no_grad()
    def votes(self, x: Tensor) -> Tensor:
        """Summed log-softmax of ``g / T`` (N, C) over layers ``goodness_from..K`` for inputs
        ``x`` (N, D), in chunks of ``predict_batch_size`` rows."""
        parts: list[Tensor] = []
        size = self.predict_batch_size
        for start in range(0, x.shape[0], size):
            u = rms_normalise(x[start : start + size])
            total = torch.zeros(u.shape[0], self.num_classes, device=x.device)
            for k, layer in enumerate(self.linear_layers(), start=1):
                h = torch.relu(layer(u))
                if k >= self.goodness_from:
                    g = group_goodness(h, self.num_classes).float()
                    total += F.log_softmax(g / self.temperature, dim=1)
                u = rms_normalise(h)
            parts.append(total)
        return torch.cat(parts) if parts else x.new_zeros(0, self.num_classes)

    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64."""
        return self.votes(x).argmax(1)


def layer_losses(net: GroupFFNet, x_hat: Tensor, y: Tensor) -> Tensor:
    """Every layer's loss (K,) on the normalised batch ``x_hat`` (m, D) with labels ``y`` (m,);
    layer k+1's input is layer k's normalised, detached output."""
    losses: list[Tensor] = []
    u = x_hat
    for layer in net.linear_layers():
        g, h = relu_group_goodness(layer(u), net.num_classes)
        losses.append(competitive_loss(g, y, net.temperature))
        u = rms_normalise(h)  # detached
    return torch.stack(losses)


def train_group_ff(
    recipe: GroupFFRecipe,
    x: Tensor,
    y: Tensor,
    info: DatasetInfo,
    observer: TrainObserver | None = None,
) -> Fitted[GroupFFNet]:
    """Train on rows ``x`` (N, C·H·W) and labels ``y`` (N,) on their device. Random streams:
    weights from ``seed`` (CPU generator), row orders from ``seed + 1``, shifts from
    ``seed + 3`` (device generators); the same seed gives the same weights on the CPU."""
    validate_group_ff(recipe, info)
    if x.shape[0] < 1:
        raise RecipeError("cannot train on an empty split")
    obs: TrainObserver = observer if observer is not None else NullObserver()
    device, n, c = x.device, x.shape[0], info.num_classes
    gen = torch.Generator().manual_seed(recipe.seed)
    dims = (info.input_size, *recipe.hidden)
    layers = [seeded_linear(i, o, gen, device) for i, o in itertools.pairwise(dims)]
    net = GroupFFNet(layers, c, recipe.temperature, recipe.goodness_from, recipe.predict_batch_size)
    opt = torch.optim.AdamW(
        net.parameters(),
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        fused=device.type == "cuda" or None,
    )
    low = product_dtype(recipe.precision)
    batch = min(n if recipe.batch_size is None else recipe.batch_size, n)
    names = tuple(f"layer{k}" for k in range(1, len(layers) + 1))
    shuffle = torch.Generator(device=device).manual_seed(recipe.seed + 1)
    shifts = torch.Generator(device=device).manual_seed(recipe.seed + 3)
    x_hat = rms_normalise(x.float())  # (N, D); refilled each epoch when images shift

    def loss_of(idx: Tensor) -> Tensor:
        with torch.autocast(device.type, dtype=low, enabled=low is not None):
            return layer_losses(net, x_hat[idx], y[idx])  # (K,)

    batches = minibatch_epoch(opt, loss_of, n, batch, shuffle, device, len(layers))

    def body(e: int) -> Tensor:
        nonlocal x_hat
        if recipe.shift > 0:  # the whole split, moved once per epoch
            x_hat = rms_normalise(translate(x.float(), info.image_shape, recipe.shift, shifts))
        return batches(e)

    plan = Epochs("train", recipe.epochs, recipe.lr, recipe.schedule, recipe.nan_check_every, names)
    with precision_scope(recipe.precision, device):
        losses, _ = run_epochs(plan, body, obs, lambda: net, device, opt)
    options: dict[str, object] = {
        **eager_options(recipe.precision, recipe.compile),
        "optimizer": "adamw",
        "schedule": recipe.schedule,
        "shift": recipe.shift,
        "predictors": ["goodness"],
        "goodness_layers": list(range(recipe.goodness_from, len(layers) + 1)),
        "negative_data": False,
        "backprop": "none",
    }
    return Fitted(model=net, losses=losses, options=options)


METHOD = RecipeMethod(
    name="ff_group",
    description=(
        "FF on an MLP with class-group goodness: each layer's units in one group per class, "
        "local losses, shifted images, no negative data, no backprop anywhere"
    ),
    recipes=RECIPES,
    check=validate_group_ff,
    train=lambda recipe, data, observer: train_group_ff(
        recipe, data.train.x, data.train.y, data.info, observer
    ),
)

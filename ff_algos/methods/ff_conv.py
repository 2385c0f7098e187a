"""Convolutional Forward-Forward (``ff_conv``): conv blocks trained one after the other, each by
a channel-wise competitive goodness objective on its own detached input; no negative data, no
label overlay, no gradient ever crossing a block.

The reference study's Conv2D layer with a goodness objective "did not yield promising results".
This method follows the idea of channel-wise competitive learning (Papachristodoulou et al.,
"Convolutional Channel-wise Competitive Learning for the Forward-Forward Algorithm", AAAI 2024),
written afresh on the blocks of :mod:`ff_algos.methods.common.conv` (conv, ReLU, max-pool).

**Goodness per class.** Block ``k`` has ``maps_k`` output channels per class; its activity
``h = relu(conv_k(u_k))`` (m, C·maps_k, H, W) is split into ``C`` channel groups and the
goodness of class ``c`` is the group's mean squared activity,
``g_c = mean_{j ∈ group c, y, x} h_{j,y,x}²``. Positive and negative data become one softmax:
the block's loss is the cross-entropy of the logits ``g / T`` (``T = temperature``) against the
true label, ``L_k = -log softmax(g/T)_y``. Raising the true class's goodness is FF's positive
phase, lowering every other class's goodness (in proportion to its softmax weight) the negative
phase; a single forward pass of the image serves both.

**Locality.** Block ``k+1``'s input is block ``k``'s pooled output, normalised per sample
(``u_{k+1} = p / sqrt(mean(p²) + ε)`` over all its channels and positions, so the next block
reads the pattern, not its overall size) and *detached*. Blocks train greedily: block 1 for
``epochs`` epochs, then its output over the training rows is computed once (no gradient) and
kept as block 2's input, and so on. Block ``k``'s loss depends on block ``k``'s parameters
only, and the backward pass of a block computes its weight gradient alone (its input needs no
gradient): a block costs a forward and a weight gradient per row and epoch, plus one forward
over the training rows to hand its output on.

**Predictors.** ``goodness`` (the model's :meth:`ConvFFNet.predict`): one forward pass through the
blocks; the class whose summed log-softmax of ``g / T`` over blocks ``goodness_from..K`` is
highest. ``head``: a linear softmax classifier on the flattened, normalised output of the last
block, trained by cross entropy for ``head_epochs`` after the blocks (backprop inside that single
linear map only; phase ``head``), scored beside it (``accuracy.predictors.head``).

**Training.** Adam per block (fresh state), mini-batches of ``batch_size`` rows in a seeded
order per epoch, learning rate constant or ``cooldown`` (constant for the first half of the
block's epochs, then linear down to ``2/epochs`` of it; the schedule of ``ff_strong``).
Observer phases ``layer1``..``layerK`` then ``head``; per-epoch mean losses stay on the device.
``training="together"`` (:func:`fit_together`) trains every block at once instead, as
``ff_group`` does for an MLP: each step runs all blocks on a batch, each on the
previous block's normalised *detached* output, and one ``backward`` of the summed block losses
gives each block its own gradient (one Adam, one phase ``train``; with a head, the last block's
output over the rows is computed in the last epoch). Only then can the images move: with
``shift > 0`` every drawn row's image is shifted by up to ``shift`` pixels
(:func:`ff_algos.methods.common.shift.translate`); greedy blocks are handed outputs computed
once, so greedy
training refuses ``shift``.

The measured runs of these recipes are in ``reports/cpu-2core-conv/`` and the README.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError
from ff_algos.method import Fitted, FlopCount, NullObserver, RecipeMethod, TrainObserver
from ff_algos.methods.common.checks import check_run_fields, check_schedule
from ff_algos.methods.common.conv import (
    BlockShape,
    as_images,
    block,
    block_shapes,
    in_channels_last,
    max_pool,
    seeded_conv,
)
from ff_algos.methods.common.goodness import competitive_loss, group_goodness, relu_group_goodness
from ff_algos.methods.common.heads import Predictor
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import SCHEDULES, Schedule, head_phase, recipe_phase, train_phase
from ff_algos.methods.common.precision import (
    Precision,
    eager_options,
    precision_scope,
    product_dtype,
)
from ff_algos.methods.common.shift import translate

EPS = 1e-12  # added to the mean square before the square root
COMPILES = ("none",)  # eager only: no compiled or captured block step yet
Training = Literal["greedy", "together"]
TRAININGS: tuple[Training, ...] = ("greedy", "together")


@dataclass(frozen=True)
class ConvFFRecipe:
    """Channel-wise competitive FF on conv blocks (see the module docstring)."""

    name: str = "seed"
    maps: tuple[int, ...] = (4, 8, 16)  # channels per class of each block
    kernels: tuple[int, ...] = (5, 3, 3)  # odd kernel sizes, "same" padding
    pools: tuple[int, ...] = (2, 2, 1)  # max-pool size after each block (1: none)
    epochs: int = 4  # per block (greedy) or for all blocks at once (together)
    training: Training = "greedy"  # greedy (block after block) | together (all blocks at once)
    shift: int = 0  # together only: each time a row is drawn, its image moved up to ±shift px
    batch_size: int | None = 100  # None: the whole training split as one batch
    lr: float = 1e-3  # Adam, every block
    schedule: Schedule = "cooldown"  # constant | cooldown (linear decay over the second half)
    temperature: float = 0.1  # logits = group goodness / temperature (1.0 learnt slower)
    goodness_from: int = 3  # first block (1-based) whose goodness predict() sums
    head_epochs: int = 2  # linear head on the last block's output (0: no head)
    head_lr: float = 1e-3
    head_batch_size: int | None = 100
    train_size: int | None = None  # None: the whole training split
    seed: int = 0
    nan_check_every: int = 5  # epochs between non-finite-loss checks (one host sync each)
    predict_batch_size: int = 2000  # rows per prediction or hand-on chunk
    precision: Precision = "fp32"  # fp32 | bf16 autocast, fp32 master weights
    compile: str = "none"  # none only (eager)
    channels_last: bool = False  # channels-last convolutions (other kernels: not bit-identical)

    method: typing.ClassVar[str] = "ff_conv"

    def shapes(self, info: DatasetInfo) -> list[BlockShape]:
        """The blocks' shapes on ``info``'s images (a one-line error if they do not fit)."""
        return block_shapes(self.maps, self.kernels, self.pools, info)

    def head_width(self, info: DatasetInfo) -> int:
        """Input width of the linear head: the last block's flattened output."""
        return self.shapes(info)[-1].out_size

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs of the plain algorithm: per block, epoch and row a forward convolution
        and its weight gradient (inputs are detached: no input gradient); the head's forward and
        weight gradient (``2·F·C`` each) per head epoch and row. Prediction by goodness is one
        forward pass through the blocks."""
        conv = sum(s.conv_flops for s in self.shapes(info))
        head = 2 * self.head_width(info) * info.num_classes
        forward = n_train * (self.epochs * conv + self.head_epochs * head)
        return FlopCount(forward=forward, backward=forward, predict=conv, predict_samples=1)

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """Training FLOPs executed per phase: the plain algorithm's, plus the forward passes
        over the training rows that hand outputs on. Greedy: one pass of each block (to the next
        block, or the head; the last block hands on only when there is a head), phases
        ``layer1..K``. Together: one phase ``train``, and one pass through every block for the
        head's features when there is a head."""
        shapes = self.shapes(info)
        out: dict[str, int] = {}
        if self.training == "together":
            conv = sum(s.conv_flops for s in shapes)
            out["train"] = n_train * conv * (2 * self.epochs + int(self.head_epochs > 0))
        else:
            for k, s in enumerate(shapes, start=1):
                hand_on = k < len(shapes) or self.head_epochs > 0
                out[f"layer{k}"] = n_train * s.conv_flops * (2 * self.epochs + int(hand_on))
        if self.head_epochs > 0:
            head = 2 * self.head_width(info) * info.num_classes
            out["head"] = self.head_epochs * n_train * 2 * head
        return out


# SEED: 3 blocks of 40, 80, 160 channels (10 classes), 4 epochs per block on the full training
# split, then 2 head epochs; bp_conv's SEED has the same blocks and epochs. The published runs
# (shared 2-core CPU) had time for 2 epochs per block only (module docstring).
SEED = ConvFFRecipe(name="seed")
QUICK = ConvFFRecipe(
    name="quick",
    maps=(2, 4),
    kernels=(5, 3),
    pools=(2, 2),
    epochs=2,
    goodness_from=2,
    head_epochs=2,
    train_size=10000,
)
TINY = ConvFFRecipe(
    name="tiny",
    maps=(1, 2),
    kernels=(3, 3),
    pools=(2, 2),
    epochs=1,
    batch_size=32,
    goodness_from=1,
    head_epochs=1,
    head_batch_size=32,
    train_size=1024,
)
RECIPES: dict[str, ConvFFRecipe] = {r.name: r for r in (SEED, QUICK, TINY)}


def validate_conv_ff(recipe: ConvFFRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe that cannot train on ``info``."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    shapes = recipe.shapes(info)
    if recipe.head_epochs > 0:
        check_schedule("head_", recipe.head_epochs, recipe.head_lr, recipe.head_batch_size)
    if not recipe.temperature > 0:
        raise RecipeError(f"temperature={recipe.temperature!r} must be positive, e.g. 1.0")
    if not 1 <= recipe.goodness_from <= len(shapes):
        raise RecipeError(
            f"goodness_from={recipe.goodness_from} must name a block 1..{len(shapes)} of "
            f"maps={recipe.maps!r}; e.g. --set goodness_from={len(shapes)}"
        )
    _, h, w = info.image_shape
    if not 0 <= recipe.shift < min(h, w):
        raise RecipeError(
            f"shift={recipe.shift} must be 0..{min(h, w) - 1} pixels for {h}x{w} images; "
            "--set shift=0 turns it off"
        )
    if recipe.shift > 0 and recipe.training == "greedy":
        raise RecipeError(
            f"shift={recipe.shift} needs --set training=together (greedy blocks are handed "
            "outputs computed once from the unshifted images)"
        )
    check_run_fields(
        recipe,
        "ff_conv (eager only)",
        COMPILES,
        {"schedule": SCHEDULES, "training": TRAININGS},
    )


def normalise(p: Tensor) -> Tensor:
    """Each sample of ``p`` (N, ...) divided by ``sqrt(mean(p²) + EPS)`` over all its entries."""
    return F.rms_norm(p, p.shape[1:], eps=EPS)


class ConvFFNet(nn.Module):
    """The trained blocks and linear head; :meth:`predict` by goodness (module docstring)."""

    def __init__(
        self,
        convs: list[nn.Conv2d],
        head: nn.Linear | None,
        recipe: ConvFFRecipe,
        info: DatasetInfo,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.head = head
        self.pools = recipe.pools
        self.temperature = recipe.temperature
        self.goodness_from = recipe.goodness_from
        self.info = info
        self.predict_batch_size = recipe.predict_batch_size
        self.channels_last = recipe.channels_last

    def blocks(self) -> list[tuple[nn.Conv2d, int]]:
        """Every block's convolution and pooling size, first to last."""
        convs = [c for c in self.convs if isinstance(c, nn.Conv2d)]
        return list(zip(convs, self.pools, strict=True))

    def _chunks(self, x: Tensor) -> list[Tensor]:
        size = self.predict_batch_size
        return [x[s : s + size] for s in range(0, x.shape[0], size)]

    @torch.no_grad()
    def scores(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """For rows ``x`` (N, D): the summed log-softmax of ``g/T`` over blocks
        ``goodness_from..K`` (N, C), and the last block's flattened normalised output (N, F)."""
        c = self.info.num_classes
        parts: list[Tensor] = []
        feats: list[Tensor] = []
        for chunk in self._chunks(x):
            u = as_images(chunk, self.info, self.channels_last)
            score = torch.zeros(chunk.shape[0], c, device=x.device)
            for k, (conv, pool) in enumerate(self.blocks(), start=1):
                h, p = block(conv, pool, u)
                if k >= self.goodness_from:
                    score += F.log_softmax(group_goodness(h, c) / self.temperature, 1)
                u = normalise(p)
            parts.append(score)
            feats.append(u.flatten(1))
        if not parts:
            return x.new_empty(0, c), x.new_empty(0, 0)
        return torch.cat(parts), torch.cat(feats)

    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64 by goodness."""
        return self.scores(x)[0].argmax(1)

    @torch.no_grad()
    def predict_head(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64 by the linear head."""
        assert self.head is not None, "this network has no head (head_epochs=0)"
        logits: Tensor = self.head(self.scores(x)[1])
        return logits.argmax(1)


def block_loss(
    conv: nn.Conv2d, u: Tensor, y: Tensor, num_classes: int, temperature: float
) -> Tensor:
    """Block ``conv``'s channel-wise competitive loss on its (detached) input ``u`` (m, c_in,
    H, W) with labels ``y`` (m,): cross-entropy of the group goodness over ``temperature``."""
    g, _ = relu_group_goodness(conv(u), num_classes)
    return competitive_loss(g, y, temperature)


def handed_on(conv: nn.Conv2d, pool: int, u: Tensor, chunk: int) -> Tensor:
    """Block ``conv``'s normalised pooled output for every row of its input ``u`` (N, c_in, H,
    W), computed in chunks of ``chunk`` rows without gradient: the next block's input."""
    with torch.no_grad():
        return torch.cat(
            [normalise(block(conv, pool, u[s : s + chunk])[1]) for s in range(0, u.shape[0], chunk)]
        )


def fit_together(
    recipe: ConvFFRecipe,
    net: ConvFFNet,
    x: Tensor,
    y: Tensor,
    obs: TrainObserver,
    gen: torch.Generator,
) -> tuple[list[float], Tensor | None]:
    """Train every block at once (phase ``train``): each step runs the blocks on a batch of rows
    ``x`` (N, D), each block on the previous block's normalised, *detached* output, and one
    ``backward`` of the summed block losses gives each block its own gradient. With ``shift``,
    every drawn row's image is moved first (offsets from ``seed + 3``). The per-epoch mean
    summed loss, and with a head the last block's output over ``x`` (N, F), computed in the last
    epoch (timed with it)."""
    info, c = net.info, net.info.num_classes
    low = product_dtype(recipe.precision)
    shifts = torch.Generator(device=x.device).manual_seed(recipe.seed + 3)

    def loss_of(xb: Tensor, yb: Tensor) -> Tensor:
        if recipe.shift > 0:
            xb = translate(xb, info.image_shape, recipe.shift, shifts)
        u = as_images(xb, info, recipe.channels_last)  # (m, C, H, W)
        total = xb.new_zeros(())
        with torch.autocast(x.device.type, dtype=low, enabled=low is not None):
            for conv, pool in net.blocks():
                g, h = relu_group_goodness(conv(u), c)
                total = total + competitive_loss(g, yb, recipe.temperature)
                with torch.no_grad():  # the next block's input is detached: no graph for it
                    u = normalise(max_pool(h, pool))
        return total

    def features() -> Tensor:
        return net.scores(x)[1]

    phase = recipe_phase(
        "train",
        list(net.convs.parameters()),
        loss_of,
        recipe,
        features if net.head is not None else None,
        lambda: net,
    )
    return train_phase(phase, x, y, obs, gen)


def train_conv_ff(
    recipe: ConvFFRecipe,
    x: Tensor,
    y: Tensor,
    info: DatasetInfo,
    observer: TrainObserver | None = None,
) -> Fitted[ConvFFNet]:
    """Train on rows ``x`` (N, C·H·W) and labels ``y`` (N,) on their device. Random streams:
    weights from ``seed`` (CPU generator: blocks, then head), row orders from ``seed + 1``."""
    validate_conv_ff(recipe, info)
    obs: TrainObserver = observer if observer is not None else NullObserver()
    device = x.device
    if x.shape[0] < 1:
        raise RecipeError("cannot train on an empty split")
    shapes = recipe.shapes(info)
    gen = torch.Generator().manual_seed(recipe.seed)
    convs = [seeded_conv(s, gen, device) for s in shapes]
    if recipe.channels_last:
        in_channels_last(convs)
    head: nn.Linear | None = None
    if recipe.head_epochs > 0:
        head = seeded_linear(shapes[-1].out_size, info.num_classes, gen, device)
        with torch.no_grad():
            head.weight.zero_()
            head.bias.zero_()
    net = ConvFFNet(convs, head, recipe, info)
    low = product_dtype(recipe.precision)
    c = info.num_classes
    shuffle = torch.Generator(device=device).manual_seed(recipe.seed + 1)
    losses: dict[str, list[float]] = {}
    feats: Tensor | None = None  # the last block's output over the rows, for the head
    with precision_scope(recipe.precision, device):
        if recipe.training == "together":
            losses["train"], feats = fit_together(recipe, net, x, y, obs, shuffle)
        else:
            u = as_images(x, info, recipe.channels_last)  # block 1's input (N, C, H, W)
            for k, (conv, shape) in enumerate(zip(convs, shapes, strict=True), start=1):

                def loss_of(ub: Tensor, yb: Tensor, conv: nn.Conv2d = conv) -> Tensor:
                    with torch.autocast(device.type, dtype=low, enabled=low is not None):
                        return block_loss(conv, ub, yb, c, recipe.temperature)

                last = k == len(shapes) and head is None
                hand_on = functools.partial(
                    handed_on, conv, shape.pool, u, recipe.predict_batch_size
                )
                so_far = dataclasses.replace(
                    recipe, pools=recipe.pools[:k], goodness_from=min(recipe.goodness_from, k)
                )  # blocks 1..k predict by their goodness
                model = functools.partial(ConvFFNet, convs[:k], None, so_far, info)
                losses[f"layer{k}"], out = train_phase(
                    recipe_phase(
                        f"layer{k}",
                        list(conv.parameters()),
                        loss_of,
                        recipe,
                        None if last else hand_on,
                        model,
                    ),
                    u,
                    y,
                    obs,
                    shuffle,
                )
                if out is not None:
                    u = out
            feats = u
        if head is not None:
            assert feats is not None
            losses["head"], _ = train_phase(
                head_phase(head, recipe, lambda: net),
                feats.flatten(1),  # (N, F), normalised and detached
                y,
                obs,
                shuffle,
            )
    options: dict[str, object] = {
        **eager_options(recipe.precision, recipe.compile),
        "schedule": recipe.schedule,
        "channels": [s.c_out for s in shapes],
        "predictors": ["goodness", "head"] if head is not None else ["goodness"],
        "goodness_layers": list(range(recipe.goodness_from, len(shapes) + 1)),
        "greedy": recipe.training == "greedy",
        "training": recipe.training,
        "shift": recipe.shift,
        "channels_last": recipe.channels_last,
        "negative_data": False,
    }
    heads = {"head": Predictor(net.predict_head)} if head is not None else {}
    return Fitted(model=net, losses=losses, options=options, predictors=heads)


METHOD = RecipeMethod(
    name="ff_conv",
    description=(
        "FF on conv blocks: channel-wise competitive goodness per block, greedy and local, no "
        "negative data; goodness predictor, plus a linear head scored beside it"
    ),
    recipes=RECIPES,
    check=validate_conv_ff,
    train=lambda recipe, data, observer: train_conv_ff(
        recipe, data.train.x, data.train.y, data.info, observer
    ),
)

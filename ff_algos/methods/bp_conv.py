"""Backprop baseline of the convolutional pair (``bp_conv``): the conv blocks of
:mod:`ff_algos.methods.common.conv` (``maps_k · C`` channels, conv → ReLU → max-pool) and a linear
head on
the flattened output of the last block, trained end to end by cross entropy and Adam.

It is ``ff_conv``'s architecture with the locality removed: one loss at the head, gradients
through every block, nothing detached, no per-sample normalisation between blocks (the plain
CNN). Mini-batches of ``batch_size`` rows in a seeded order per epoch; the learning rate is
constant or ``cooldown`` (as ``ff_conv``), so that the two methods run the same schedule over the
same epochs. One observer phase, ``train``.

**FLOPs** per sample and epoch: forward ``Σ_k F_k + 2·F·C`` (``F_k``: block ``k``'s convolution,
``F`` the head's input width); backward, every weight gradient (``Σ_k F_k + 2·F·C``) and every
input gradient but block 1's (``Σ_{k≥2} F_k + 2·F·C``): the image needs none.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import torch
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
    seeded_conv,
)
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import SCHEDULES, Schedule, fit_end_to_end
from ff_algos.methods.common.precision import Precision, eager_options
from ff_algos.methods.common.shift import translate


@dataclass(frozen=True)
class ConvBPRecipe:
    """The conv blocks and a linear head, trained end to end (see the module docstring)."""

    name: str = "seed"
    maps: tuple[int, ...] = (4, 8, 16)  # channels per class of each block (as ff_conv)
    kernels: tuple[int, ...] = (5, 3, 3)
    pools: tuple[int, ...] = (2, 2, 1)
    epochs: int = 4  # as ff_conv's epochs per block
    shift: int = 0  # each time a row is drawn, its image moved up to ±shift pixels (as ff_conv)
    batch_size: int | None = 100  # None: full batch
    lr: float = 1e-3  # Adam
    schedule: Schedule = "cooldown"  # constant | cooldown (linear decay over the second half)
    train_size: int | None = None
    seed: int = 0
    nan_check_every: int = 5  # epochs between non-finite-loss checks (one host sync each)
    predict_batch_size: int = 2000
    precision: Precision = "fp32"  # fp32 | bf16 autocast, fp32 master weights
    compile: str = "none"  # none only (eager)
    channels_last: bool = False  # as ff_conv's: channels-last convolutions (not bit-identical)

    method: typing.ClassVar[str] = "bp_conv"

    def shapes(self, info: DatasetInfo) -> list[BlockShape]:
        """The blocks' shapes on ``info``'s images (a one-line error if they do not fit)."""
        return block_shapes(self.maps, self.kernels, self.pools, info)

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs (module docstring); prediction is one forward pass."""
        shapes = self.shapes(info)
        convs = [s.conv_flops for s in shapes]
        head = 2 * shapes[-1].out_size * info.num_classes
        per_row = sum(convs) + head
        rows = self.epochs * n_train
        backward = sum(convs) + head + sum(convs[1:]) + head
        return FlopCount(
            forward=rows * per_row, backward=rows * backward, predict=per_row, predict_samples=1
        )

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """Training FLOPs executed: the plain algorithm's (nothing is skipped)."""
        return {"train": self.flops(n_train, info).train}


SEED = ConvBPRecipe(name="seed")
QUICK = ConvBPRecipe(
    name="quick", maps=(2, 4), kernels=(5, 3), pools=(2, 2), epochs=2, train_size=10000
)
TINY = ConvBPRecipe(
    name="tiny", maps=(1, 2), kernels=(3, 3), pools=(2, 2), epochs=1, batch_size=32, train_size=1024
)
RECIPES: dict[str, ConvBPRecipe] = {r.name: r for r in (SEED, QUICK, TINY)}


def validate_conv_bp(recipe: ConvBPRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe that cannot train on ``info``."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    recipe.shapes(info)
    _, h, w = info.image_shape
    if not 0 <= recipe.shift < min(h, w):
        raise RecipeError(
            f"shift={recipe.shift} must be 0..{min(h, w) - 1} pixels for {h}x{w} images; "
            "--set shift=0 turns it off"
        )
    check_run_fields(recipe, "bp_conv (eager only)", ("none",), {"schedule": SCHEDULES})


class ConvNet(nn.Module):
    """Conv blocks and a linear head; :meth:`predict` returns the argmax class."""

    def __init__(
        self,
        convs: list[nn.Conv2d],
        head: nn.Linear,
        pools: tuple[int, ...],
        info: DatasetInfo,
        predict_batch_size: int,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.head = head
        self.pools = pools
        self.info = info
        self.predict_batch_size = max(1, predict_batch_size)
        self.channels_last = channels_last

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, C) for rows ``x`` (N, C·H·W)."""
        u = as_images(x, self.info, self.channels_last)
        for conv, pool in zip(self.convs, self.pools, strict=True):
            assert isinstance(conv, nn.Conv2d)
            u = block(conv, pool, u)[1]
        out: Tensor = self.head(u.flatten(1))
        return out

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64, in chunks of ``predict_batch_size`` rows."""
        size = self.predict_batch_size
        parts = [self(x[s : s + size]).argmax(1) for s in range(0, x.shape[0], size)]
        return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long, device=x.device)


def train_conv_bp(
    recipe: ConvBPRecipe,
    x: Tensor,
    y: Tensor,
    info: DatasetInfo,
    observer: TrainObserver | None = None,
) -> Fitted[ConvNet]:
    """Train on rows ``x`` (N, C·H·W) and labels ``y`` (N,) on their device. Random streams:
    weights from ``seed`` (CPU generator: blocks, then head), row orders from ``seed + 1``,
    shifts from ``seed + 3`` (as ff_conv's)."""
    validate_conv_bp(recipe, info)
    obs: TrainObserver = observer if observer is not None else NullObserver()
    device = x.device
    n = x.shape[0]
    if n < 1:
        raise RecipeError("cannot train on an empty split")
    shapes = recipe.shapes(info)
    gen = torch.Generator().manual_seed(recipe.seed)
    convs = [seeded_conv(s, gen, device) for s in shapes]
    if recipe.channels_last:
        in_channels_last(convs)
    head = seeded_linear(shapes[-1].out_size, info.num_classes, gen, device)
    model = ConvNet(
        convs, head, recipe.pools, info, recipe.predict_batch_size, recipe.channels_last
    )
    shifts = torch.Generator(device=device).manual_seed(recipe.seed + 3)

    def moved(xb: Tensor) -> Tensor:
        return translate(xb, info.image_shape, recipe.shift, shifts)

    losses = fit_end_to_end(model, recipe, x, y, obs, moved if recipe.shift > 0 else None)
    options: dict[str, object] = {
        **eager_options(recipe.precision, recipe.compile),
        "schedule": recipe.schedule,
        "shift": recipe.shift,
        "channels_last": recipe.channels_last,
        "channels": [s.c_out for s in shapes],
        "fused_adam": device.type == "cuda",
    }
    return Fitted(model=model, losses={"train": losses}, options=options)


METHOD = RecipeMethod(
    name="bp_conv",
    description="backprop CNN of ff_conv's conv blocks plus a linear head (its baseline)",
    recipes=RECIPES,
    check=validate_conv_bp,
    train=lambda recipe, data, observer: train_conv_bp(
        recipe, data.train.x, data.train.y, data.info, observer
    ),
)

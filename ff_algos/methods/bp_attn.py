"""Backprop baseline of the attention pair (``bp_attn``): the vision transformer of
:mod:`ff_algos.methods.common.attn` (patch embedding, ``K`` pre-norm blocks of multi-head
self-attention and
MLP, width ``maps · C``) and a linear head on the token mean of the last block's layer-normed
output, trained end to end by cross entropy and Adam.

It is ``ff_attn``'s architecture with the locality removed: one loss at the head, gradients
through every block, nothing detached, no per-token normalisation between blocks (the plain
pre-norm transformer, with its final layer norm). Mini-batches of ``batch_size`` rows in a seeded
order per epoch; the learning rate is constant or ``cooldown`` (as ``ff_attn``), so that the two
methods run the same schedule over the same epochs. One observer phase, ``train``.

**FLOPs** per sample and epoch (:class:`~ff_algos.attn_net.AttnShape`): forward
``E + K·F_b + 2·D·C``; backward, every weight gradient and every input gradient but the
embedding's (the image needs none): ``E + K·B_b + 4·D·C``, where ``B_b`` includes the q, k, v
map's input gradient in every block (block 1's reaches the embedding).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError
from ff_algos.method import Fitted, FlopCount, NullObserver, RecipeMethod, TrainObserver
from ff_algos.methods.common.attn import AttnShape, Block, PatchEmbed, attn_shape, seeded_modules
from ff_algos.methods.common.checks import check_run_fields, check_schedule
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import SCHEDULES, Schedule, fit_end_to_end
from ff_algos.methods.common.precision import Precision, eager_options

COMPILES = ("none",)  # eager only


@dataclass(frozen=True)
class AttnBPRecipe:
    """The transformer and a linear head, trained end to end (see the module docstring)."""

    name: str = "seed"
    patch: int = 4
    maps: int = 8  # features per class: width D = maps x classes (as ff_attn)
    max_width: int = 240  # caps D (fewer features per class, at least 1); 0: no cap
    heads: int = 4
    mlp_ratio: int = 2
    blocks: int = 3
    epochs: int = 6  # as ff_attn's epochs per block
    batch_size: int | None = 100  # None: full batch
    lr: float = 3e-3  # Adam, as ff_attn (1e-3: quick MNIST .733 vs .786)
    schedule: Schedule = "cooldown"
    train_size: int | None = None
    seed: int = 0
    nan_check_every: int = 5  # epochs between non-finite-loss checks (one host sync each)
    predict_batch_size: int = 1000
    precision: Precision = "fp32"  # fp32 | tf32 | bf16 autocast, fp32 master weights
    compile: str = "none"  # none only (eager)

    method: typing.ClassVar[str] = "bp_attn"

    def shape(self, info: DatasetInfo) -> AttnShape:
        """The transformer's shapes on ``info`` (a one-line error if they do not fit)."""
        return attn_shape(
            self.patch, self.maps, self.heads, self.mlp_ratio, self.blocks, info, self.max_width
        )

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs (module docstring); prediction is one forward pass."""
        s = self.shape(info)
        head = 2 * s.dim * info.num_classes
        per_row = s.embed_flops + s.blocks * s.block_flops + head
        backward = s.embed_flops + s.blocks * s.block_backward_flops(True) + 2 * head
        rows = self.epochs * n_train
        return FlopCount(
            forward=rows * per_row, backward=rows * backward, predict=per_row, predict_samples=1
        )

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """Training FLOPs executed: the plain algorithm's (nothing is skipped)."""
        return {"train": self.flops(n_train, info).train}


SEED = AttnBPRecipe(name="seed")
QUICK = AttnBPRecipe(
    name="quick", maps=6, max_width=120, heads=4, blocks=2, epochs=2, train_size=10000
)
TINY = AttnBPRecipe(
    name="tiny",
    patch=4,  # divides 28 and 32: every dataset
    maps=2,
    max_width=100,
    heads=2,
    mlp_ratio=1,
    blocks=2,
    epochs=1,
    batch_size=32,
    train_size=1024,
)
RECIPES: dict[str, AttnBPRecipe] = {r.name: r for r in (SEED, QUICK, TINY)}


def validate_attn_bp(recipe: AttnBPRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe that cannot train on ``info``."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    recipe.shape(info)
    check_run_fields(recipe, "bp_attn (eager only)", COMPILES, {"schedule": SCHEDULES})


class AttnNet(nn.Module):
    """The transformer and its linear head; :meth:`predict` returns the argmax class."""

    def __init__(
        self, embed: PatchEmbed, blocks: list[Block], head: nn.Linear, predict_batch_size: int
    ) -> None:
        super().__init__()
        self.embed = embed
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.predict_batch_size = max(1, predict_batch_size)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, C) for rows ``x`` (N, c·h·w)."""
        u = self.embed(x)
        for block in self.blocks:
            u = block(u)
        out: Tensor = self.head(F.layer_norm(u, (u.shape[-1],)).mean(1))
        return out

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64, in chunks of ``predict_batch_size`` rows."""
        size = self.predict_batch_size
        parts = [self(x[s : s + size]).argmax(1) for s in range(0, x.shape[0], size)]
        return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long, device=x.device)


def train_attn_bp(
    recipe: AttnBPRecipe,
    x: Tensor,
    y: Tensor,
    info: DatasetInfo,
    observer: TrainObserver | None = None,
) -> Fitted[AttnNet]:
    """Train on rows ``x`` (N, c·h·w) and labels ``y`` (N,) on their device. Random streams:
    weights from ``seed`` (CPU generator: embedding, blocks, then head; as ``ff_attn``), row
    orders from ``seed + 1``."""
    validate_attn_bp(recipe, info)
    obs: TrainObserver = observer if observer is not None else NullObserver()
    device = x.device
    n = x.shape[0]
    if n < 1:
        raise RecipeError("cannot train on an empty split")
    shape = recipe.shape(info)
    gen = torch.Generator().manual_seed(recipe.seed)
    embed, blocks = seeded_modules(shape, gen, device)
    head = seeded_linear(shape.dim, info.num_classes, gen, device)
    model = AttnNet(embed, blocks, head, recipe.predict_batch_size)
    losses = fit_end_to_end(model, recipe, x, y, obs)
    options: dict[str, object] = {
        **eager_options(recipe.precision, recipe.compile),
        "schedule": recipe.schedule,
        "tokens": shape.tokens,
        "width": shape.dim,
        "heads": shape.heads,
        "blocks": shape.blocks,
        "attention": "explicit-matmul",
        "fused_adam": device.type == "cuda",
    }
    return Fitted(model=model, losses={"train": losses}, options=options)


METHOD = RecipeMethod(
    name="bp_attn",
    description=(
        "backprop vision transformer of ff_attn's blocks plus a linear head (its baseline)"
    ),
    recipes=RECIPES,
    check=validate_attn_bp,
    train=lambda recipe, data, observer: train_attn_bp(
        recipe, data.train.x, data.train.y, data.info, observer
    ),
)

"""``ff_head``: Forward-Forward features, a backprop-trained linear softmax head on top.

The FF layers train exactly as the ``ff`` method (greedy, label overlaid, same recipe fields).
Then every training row is run once through the trained layers with a *neutral* label overlay
(each of the ``C`` label entries set to ``v / C``, where ``v`` is the overlay value FF uses, the
maximum of the split: the same total as one label at ``v``, spread evenly), and the
length-normalised activities of all layers, concatenated, are the features (N, sum of widths).
A linear head on those (detached) features is trained by cross entropy and Adam: backprop
reaches only the head. Prediction is one forward pass and an argmax, instead of FF's one pass
per candidate label; the FF goodness predictor of the same layers is scored beside it
(``accuracy.predictors.goodness``).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo, LoadedDataset
from ff_algos.method import Fitted, FlopCount, RecipeMethod, TrainObserver
from ff_algos.methods.common.checks import check_schedule
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import Phase, train_phase
from ff_algos.methods.common.overlay import (
    FF_RECIPES,
    FFNet,
    FFRecipe,
    check_ff,
    neutral_features,
    train_ff,
)
from ff_algos.methods.common.precision import precision_scope


@dataclass(frozen=True)
class FFHeadRecipe(FFRecipe):
    """An ``ff`` recipe plus the head's training."""

    head_epochs: int = 20
    head_lr: float = 1e-3
    head_batch_size: int | None = 256  # None: full batch

    method: ClassVar[str] = "ff_head"

    def feature_width(self) -> int:
        """Width of the features the head reads: all layers' widths."""
        return sum(self.hidden)

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """FF's model FLOPs, the features' pass, and the head's forward and weight gradient."""
        base = super().flops(n_train, info)
        features = self._features_flops(n_train, info)
        head = 2 * n_train * self.feature_width() * info.num_classes
        return FlopCount(
            forward=base.forward + features + self.head_epochs * head,
            backward=base.backward + self.head_epochs * head,
            predict=features // max(n_train, 1) + head // max(n_train, 1),
            predict_samples=1,
        )

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """FF's executed FLOPs per layer, and the head phase (features once, then per epoch
        forward and weight gradient)."""
        head = 2 * n_train * self.feature_width() * info.num_classes  # one pass, one way
        features = self._features_flops(n_train, info)
        return {
            **super().executed_flops(n_train, info),
            "head": features + self.head_epochs * 2 * head,
        }

    def _features_flops(self, n_train: int, info: DatasetInfo) -> int:
        dims = (info.input_size, *self.hidden)
        return sum(2 * n_train * i * o for i, o in itertools.pairwise(dims))


def _recipes() -> dict[str, FFHeadRecipe]:
    recipes = {name: FFHeadRecipe(**dataclasses.asdict(r)) for name, r in FF_RECIPES.items()}
    for name in ("quick", "matched"):
        recipes[name] = dataclasses.replace(recipes[name], head_epochs=5)
    recipes["tiny"] = dataclasses.replace(recipes["tiny"], head_epochs=1)
    return recipes


RECIPES = _recipes()  # the same FF layers as each ff recipe


class HeadClassifier(nn.Module):
    """FF layers (frozen) with the neutral overlay, then the linear head: one forward pass."""

    def __init__(self, net: FFNet, head: nn.Linear, predict_batch_size: int) -> None:
        super().__init__()
        self.net, self.head = net, head
        self.predict_batch_size = max(1, predict_batch_size)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Labels (N,) int64: the head's argmax on the neutral-overlay features."""
        feats = neutral_features(self.net, x, x.max(), self.predict_batch_size)
        labels: Tensor = self.head(feats).argmax(1)
        return labels


def check_ff_head(recipe: FFHeadRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe that cannot train on ``info``."""
    check_ff(recipe, info)
    check_schedule("head_", recipe.head_epochs, recipe.head_lr, recipe.head_batch_size)


def fit_ff_head(
    recipe: FFHeadRecipe, data: LoadedDataset, observer: TrainObserver
) -> Fitted[HeadClassifier]:
    """Train the FF layers, then the head (phase ``head``: Adam on cross entropy, row orders
    from ``seed + 2``, the head drawn from ``seed + 3``) on their fixed neutral features."""
    x, y, c = data.train.x, data.train.y, data.info.num_classes
    ff = train_ff(recipe, x, y, c, observer)
    with precision_scope(recipe.precision, x.device):  # fp32: no TF32 in the features either
        feats = neutral_features(ff.model, x, x.max(), recipe.predict_batch_size)  # (N, F)
    gen = torch.Generator().manual_seed(recipe.seed + 3)
    head = seeded_linear(feats.shape[1], c, gen, x.device)

    def loss_of(f: Tensor, yb: Tensor) -> Tensor:
        return F.cross_entropy(head(f), yb)

    phase = Phase(
        "head",
        list(head.parameters()),
        loss_of,
        recipe.head_epochs,
        recipe.head_lr,
        recipe.head_batch_size,
        "constant",
        0,
        None,
        lambda: HeadClassifier(ff.model, head, recipe.predict_batch_size),
        fused_adam=False,
    )
    shuffle = torch.Generator(device=x.device).manual_seed(recipe.seed + 2)
    with precision_scope(recipe.precision, x.device):
        head_losses, _ = train_phase(phase, feats, y, observer, shuffle)
    return Fitted(
        model=HeadClassifier(ff.model, head, recipe.predict_batch_size),
        losses={**ff.losses, "head": head_losses},
        options={
            **ff.options,
            "head": "linear softmax, Adam, eager, float32 (TF32 only under precision=tf32)",
        },
        predictors={"goodness": ff.model},
    )


METHOD = RecipeMethod(
    name="ff_head",
    description="FF layers as in ff, then a linear softmax head trained by backprop",
    recipes=RECIPES,
    check=check_ff_head,
    train=fit_ff_head,
)

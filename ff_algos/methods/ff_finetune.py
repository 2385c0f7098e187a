"""``ff_finetune``: Forward-Forward pretraining, then the whole network fine-tuned by backprop.

Phase one trains the FF layers exactly as the ``ff`` method (phases ``layer1``, ``layer2``, ...).
Phase two (``finetune``) builds a classifier from them: the neutral label overlay of
``ff_head`` on the input, each FF layer as it runs in FF (length-normalised input,
linear, ReLU), and a linear head on the concatenated normalised activities of all layers; the
layers and the head are then trained end to end by cross entropy and Adam for
``finetune_epochs`` epochs (``precision=bf16`` runs the products under autocast). The record
separates the phases: per-epoch compute time per phase, executed FLOPs per phase
(``flops.executed_by_phase``), and energy per phase where it is measured.
"""

from __future__ import annotations

import copy
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
    layer_features,
    train_ff,
)
from ff_algos.methods.common.precision import precision_scope, product_dtype


@dataclass(frozen=True)
class FFFinetuneRecipe(FFRecipe):
    """An ``ff`` recipe plus the fine-tuning phase."""

    finetune_epochs: int = 5
    finetune_lr: float = 1e-3
    finetune_batch_size: int | None = 256  # None: full batch

    method: ClassVar[str] = "ff_finetune"

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """FF's model FLOPs plus the fine-tuning epochs'."""
        base = super().flops(n_train, info)
        fwd, bwd = self._finetune_epoch(n_train, info)
        return FlopCount(
            forward=base.forward + self.finetune_epochs * fwd,
            backward=base.backward + self.finetune_epochs * bwd,
            predict=fwd // max(n_train, 1),
            predict_samples=1,
        )

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """FF's executed FLOPs per layer, and the fine-tuning phase's."""
        fwd, bwd = self._finetune_epoch(n_train, info)
        pretrain = super().executed_flops(n_train, info)
        return {**pretrain, "finetune": self.finetune_epochs * (fwd + bwd)}

    def _finetune_epoch(self, n_train: int, info: DatasetInfo) -> tuple[int, int]:
        """Forward and backward FLOPs of one fine-tuning epoch: weight gradients everywhere,
        input gradients for every layer but the first (the input needs none)."""
        dims = (info.input_size, *self.hidden)
        layers = [2 * n_train * i * o for i, o in itertools.pairwise(dims)]
        head = 2 * n_train * sum(self.hidden) * info.num_classes
        forward = sum(layers) + head
        backward = sum(layers) + sum(layers[1:]) + 2 * head
        return forward, backward


def _recipes() -> dict[str, FFFinetuneRecipe]:
    recipes = {name: FFFinetuneRecipe(**dataclasses.asdict(r)) for name, r in FF_RECIPES.items()}
    for name, epochs in (("quick", 2), ("matched", 2), ("tiny", 1)):
        recipes[name] = dataclasses.replace(recipes[name], finetune_epochs=epochs)
    return recipes


RECIPES = _recipes()  # the same FF layers as each ff recipe


class FinetunedNet(nn.Module):
    """The FF layers (trainable) with the neutral overlay and a linear head on all layers'
    normalised activities."""

    def __init__(self, net: FFNet, head: nn.Linear, predict_batch_size: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(net.linear_layers()))
        self.head = head
        self.num_classes = net.num_classes
        self.predict_batch_size = max(1, predict_batch_size)

    def forward(self, x: Tensor, value: Tensor) -> Tensor:
        """Logits (N, C) for inputs ``x`` (N, D) overlaid with ``value / C`` on each label."""
        feats = layer_features(self.layers, x, value, self.num_classes)
        logits: Tensor = self.head(feats)
        return logits

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Labels (N,) int64, in chunks of ``predict_batch_size`` rows."""
        value = x.max()
        parts = [
            self(x[s : s + self.predict_batch_size], value).argmax(1)
            for s in range(0, x.shape[0], self.predict_batch_size)
        ]
        return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long, device=x.device)


def check_ff_finetune(recipe: FFFinetuneRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe that cannot train on ``info``."""
    check_ff(recipe, info)
    check_schedule(
        "finetune_", recipe.finetune_epochs, recipe.finetune_lr, recipe.finetune_batch_size
    )


def fit_ff_finetune(
    recipe: FFFinetuneRecipe, data: LoadedDataset, observer: TrainObserver
) -> Fitted[FinetunedNet]:
    """Train the FF layers, then the whole network by cross entropy and Adam (phase
    ``finetune``: the head drawn from ``seed + 3``, row orders from ``seed + 4``, products under
    autocast in ``recipe.precision``)."""
    x, y, c = data.train.x, data.train.y, data.info.num_classes
    ff = train_ff(recipe, x, y, c, observer)
    gen = torch.Generator().manual_seed(recipe.seed + 3)
    head = seeded_linear(sum(recipe.hidden), c, gen, x.device)
    net = FinetunedNet(ff.model, head, recipe.predict_batch_size)
    low = product_dtype(recipe.precision)
    value = x.max()

    def loss_of(xb: Tensor, yb: Tensor) -> Tensor:
        with torch.autocast(xb.device.type, dtype=low, enabled=low is not None):
            return F.cross_entropy(net(xb, value), yb)

    phase = Phase(
        "finetune",
        list(net.parameters()),
        loss_of,
        recipe.finetune_epochs,
        recipe.finetune_lr,
        recipe.finetune_batch_size,
        "constant",
        0,
        None,
        lambda: net,
        fused_adam=False,
    )
    shuffle = torch.Generator(device=x.device).manual_seed(recipe.seed + 4)
    with precision_scope(recipe.precision, x.device):
        losses, _ = train_phase(phase, x, y, observer, shuffle)
    options = {**ff.options, "finetune": "end to end, Adam, autocast in bf16, eager"}
    return Fitted(model=net, losses={**ff.losses, "finetune": losses}, options=options)


METHOD = RecipeMethod(
    name="ff_finetune",
    description="FF pretraining as in ff, then the network plus a head fine-tuned by backprop",
    recipes=RECIPES,
    check=check_ff_finetune,
    train=fit_ff_finetune,
)

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
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo, LoadedDataset
from ff_algos.ff import METHOD as FF
from ff_algos.ff import FFNet, direction, train_ff
from ff_algos.method import Classifier, Fitted
from ff_algos.observe import TrainObserver, offer_model
from ff_algos.recipes import FFRecipe, FlopCount, check_schedule
from ff_algos.training import LossLog, seeded_linear


@dataclass(frozen=True)
class FFHeadRecipe(FFRecipe):
    """An ``ff`` recipe plus the head's training."""

    head_epochs: int = 20
    head_lr: float = 1e-3
    head_batch_size: int | None = 256  # None: full batch

    method: typing.ClassVar[str] = "ff_head"

    def feature_width(self) -> int:
        """Width of the features the head reads: all layers' widths."""
        return sum(self.hidden)


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


def fit_head(
    recipe: FFHeadRecipe,
    feats: Tensor,
    y: Tensor,
    num_classes: int,
    obs: TrainObserver,
    as_model: Callable[[nn.Linear], Classifier] | None = None,
) -> tuple[nn.Linear, list[float]]:
    """Train the linear head on fixed features (N, F) by cross entropy and Adam; ``as_model``
    makes a classifier of the head so far for observers that score it."""
    device, n = feats.device, feats.shape[0]
    gen_init = torch.Generator().manual_seed(recipe.seed + 3)
    head = seeded_linear(feats.shape[1], num_classes, gen_init, device)
    opt = torch.optim.Adam(head.parameters(), lr=recipe.head_lr)
    batch = min(n, recipe.head_batch_size or n)
    gen = torch.Generator(device=device).manual_seed(recipe.seed + 2)
    log = LossLog("head", recipe.head_epochs, recipe.head_lr, device)
    obs.phase_start("head", recipe.head_epochs)
    for epoch in range(recipe.head_epochs):
        perm = torch.randperm(n, generator=gen, device=device)
        total = torch.zeros((), device=device)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            loss = F.cross_entropy(head(feats[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += loss.detach() * idx.shape[0]
        log.record(epoch, total / n)
        obs.epoch_end(epoch)
        if as_model is not None:
            offer_model(obs, epoch, lambda: as_model(head))
    log.check(recipe.head_epochs)
    obs.phase_end()
    return head, log.host()


class _FFHead:
    """The :class:`~ff_algos.method.Method` contract for FF layers with a backprop head."""

    name = "ff_head"
    description = "FF layers as in ff, then a linear softmax head trained by backprop"

    def __init__(self) -> None:
        self.recipes: dict[str, FFHeadRecipe] = {
            name: FFHeadRecipe(**dataclasses.asdict(r))
            for name, r in FF.recipes.items()  # the same FF layers as each ff recipe
        }
        for name in ("quick", "matched"):
            self.recipes[name] = dataclasses.replace(self.recipes[name], head_epochs=5)
        self.recipes["tiny"] = dataclasses.replace(self.recipes["tiny"], head_epochs=1)

    def validate(self, recipe: FFHeadRecipe, info: DatasetInfo) -> None:
        FF.validate(recipe, info)
        check_schedule("head_", recipe.head_epochs, recipe.head_lr, recipe.head_batch_size)

    def fit(
        self, recipe: FFHeadRecipe, data: LoadedDataset, observer: TrainObserver
    ) -> Fitted[HeadClassifier]:
        x, y, c = data.train.x, data.train.y, data.info.num_classes
        ff = train_ff(recipe, x, y, c, observer)
        feats = neutral_features(ff.model, x, x.max(), recipe.predict_batch_size)  # (N, F)
        head, head_losses = fit_head(
            recipe,
            feats,
            y,
            c,
            observer,
            lambda h: HeadClassifier(ff.model, h, recipe.predict_batch_size),
        )
        model = HeadClassifier(ff.model, head, recipe.predict_batch_size)
        options = {**ff.options, "head": "linear softmax, Adam, eager fp32"}
        return Fitted(
            model=model,
            losses={**ff.losses, "head": head_losses},
            options=options,
            predictors={"goodness": ff.model},
        )

    def flops(self, recipe: FFHeadRecipe, n_train: int, info: DatasetInfo) -> FlopCount:
        base = FF.flops(recipe, n_train, info)
        features = self._features_flops(recipe, n_train, info)
        head = 2 * n_train * recipe.feature_width() * info.num_classes
        return FlopCount(
            forward=base.forward + features + recipe.head_epochs * head,
            backward=base.backward + recipe.head_epochs * head,
            predict=features // max(n_train, 1) + head // max(n_train, 1),
            predict_samples=1,
        )

    def executed_flops(
        self, recipe: FFHeadRecipe, n_train: int, info: DatasetInfo
    ) -> dict[str, int]:
        head = 2 * n_train * recipe.feature_width() * info.num_classes  # one pass, one way
        features = self._features_flops(recipe, n_train, info)
        return {
            **FF.executed_flops(recipe, n_train, info),
            "head": features + recipe.head_epochs * 2 * head,  # forward and weight gradient
        }

    def warm_up_recipe(self, recipe: FFHeadRecipe, rows: int) -> FFHeadRecipe:
        return dataclasses.replace(recipe, epochs=1, train_size=rows, compile="none", head_epochs=1)

    @staticmethod
    def _features_flops(recipe: FFHeadRecipe, n_train: int, info: DatasetInfo) -> int:
        dims = (info.input_size, *recipe.hidden)
        return sum(2 * n_train * i * o for i, o in itertools.pairwise(dims))


METHOD = _FFHead()

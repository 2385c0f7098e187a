"""``ff_finetune``: Forward-Forward pretraining, then the whole network fine-tuned by backprop.

Phase one trains the FF layers exactly as the ``ff`` method (phases ``layer1``, ``layer2``, ...).
Phase two (``finetune``) builds a classifier from them: the neutral label overlay of
:mod:`ff_algos.ff_head` on the input, each FF layer as it runs in FF (length-normalised input,
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
import typing
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo, LoadedDataset
from ff_algos.ff import METHOD as FF
from ff_algos.ff import FFNet, train_ff
from ff_algos.ff_head import layer_features
from ff_algos.method import Fitted
from ff_algos.observe import TrainObserver, offer_model
from ff_algos.precision import product_dtype
from ff_algos.recipes import FFRecipe, FlopCount, check_schedule
from ff_algos.training import LossLog, seeded_linear


@dataclass(frozen=True)
class FFFinetuneRecipe(FFRecipe):
    """An ``ff`` recipe plus the fine-tuning phase."""

    finetune_epochs: int = 5
    finetune_lr: float = 1e-3
    finetune_batch_size: int | None = 256  # None: full batch

    method: typing.ClassVar[str] = "ff_finetune"


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


def finetune(
    recipe: FFFinetuneRecipe, net: FinetunedNet, x: Tensor, y: Tensor, obs: TrainObserver
) -> list[float]:
    """Train the whole network by cross entropy and Adam (phase ``finetune``)."""
    device, n = x.device, x.shape[0]
    opt = torch.optim.Adam(net.parameters(), lr=recipe.finetune_lr)
    batch = min(n, recipe.finetune_batch_size or n)
    gen = torch.Generator(device=device).manual_seed(recipe.seed + 4)
    low = product_dtype(recipe.precision)
    value = x.max()
    log = LossLog("finetune", recipe.finetune_epochs, recipe.finetune_lr, device)
    obs.phase_start("finetune", recipe.finetune_epochs)
    for epoch in range(recipe.finetune_epochs):
        perm = torch.randperm(n, generator=gen, device=device)
        total = torch.zeros((), device=device)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            with torch.autocast(device.type, dtype=low, enabled=low is not None):
                loss = F.cross_entropy(net(x[idx], value), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += loss.detach() * idx.shape[0]
        log.record(epoch, total / n)
        obs.epoch_end(epoch)
        offer_model(obs, epoch, lambda: net)
    log.check(recipe.finetune_epochs)
    obs.phase_end()
    return log.host()


class _FFFinetune:
    """The :class:`~ff_algos.method.Method` contract for FF pretraining plus fine-tuning."""

    name = "ff_finetune"
    description = "FF pretraining as in ff, then the network plus a head fine-tuned by backprop"

    def __init__(self) -> None:
        self.recipes: dict[str, FFFinetuneRecipe] = {
            name: FFFinetuneRecipe(**dataclasses.asdict(r)) for name, r in FF.recipes.items()
        }
        for name, epochs in (("quick", 2), ("matched", 2), ("tiny", 1)):
            self.recipes[name] = dataclasses.replace(self.recipes[name], finetune_epochs=epochs)

    def validate(self, recipe: FFFinetuneRecipe, info: DatasetInfo) -> None:
        FF.validate(recipe, info)
        check_schedule(
            "finetune_", recipe.finetune_epochs, recipe.finetune_lr, recipe.finetune_batch_size
        )

    def fit(
        self, recipe: FFFinetuneRecipe, data: LoadedDataset, observer: TrainObserver
    ) -> Fitted[FinetunedNet]:
        x, y, c = data.train.x, data.train.y, data.info.num_classes
        ff = train_ff(recipe, x, y, c, observer)
        gen = torch.Generator().manual_seed(recipe.seed + 3)
        head = seeded_linear(sum(recipe.hidden), c, gen, x.device)
        net = FinetunedNet(ff.model, head, recipe.predict_batch_size)
        losses = finetune(recipe, net, x, y, observer)
        options = {**ff.options, "finetune": "end to end, Adam, autocast in bf16, eager"}
        return Fitted(model=net, losses={**ff.losses, "finetune": losses}, options=options)

    def flops(self, recipe: FFFinetuneRecipe, n_train: int, info: DatasetInfo) -> FlopCount:
        base = FF.flops(recipe, n_train, info)
        fwd, bwd = self._finetune_epoch(recipe, n_train, info)
        per_row = fwd // max(n_train, 1)
        return FlopCount(
            forward=base.forward + recipe.finetune_epochs * fwd,
            backward=base.backward + recipe.finetune_epochs * bwd,
            predict=per_row,
            predict_samples=1,
        )

    def executed_flops(
        self, recipe: FFFinetuneRecipe, n_train: int, info: DatasetInfo
    ) -> dict[str, int]:
        fwd, bwd = self._finetune_epoch(recipe, n_train, info)
        pretrain = FF.executed_flops(recipe, n_train, info)
        return {**pretrain, "finetune": recipe.finetune_epochs * (fwd + bwd)}

    def warm_up_recipe(self, recipe: FFFinetuneRecipe, rows: int) -> FFFinetuneRecipe:
        return dataclasses.replace(
            recipe, epochs=1, train_size=rows, compile="none", finetune_epochs=1
        )

    @staticmethod
    def _finetune_epoch(
        recipe: FFFinetuneRecipe, n_train: int, info: DatasetInfo
    ) -> tuple[int, int]:
        """Forward and backward FLOPs of one fine-tuning epoch: weight gradients everywhere,
        input gradients for every layer but the first (the input needs none)."""
        dims = (info.input_size, *recipe.hidden)
        layers = [2 * n_train * i * o for i, o in itertools.pairwise(dims)]
        head = 2 * n_train * sum(recipe.hidden) * info.num_classes
        forward = sum(layers) + head
        backward = sum(layers) + sum(layers[1:]) + 2 * head
        return forward, backward


METHOD = _FFFinetune()

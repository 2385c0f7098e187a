"""One entry point for every training method: :func:`fit` a recipe to a dataset, get a
:class:`Classifier`, score it with :func:`accuracy`.

The benchmark suite codes against this module only; it dispatches on the recipe's type
(:class:`~ff_algos.recipes.FFRecipe` or :class:`~ff_algos.recipes.BPRecipe`) and trains on the
device where the dataset's tensors live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor

from ff_algos.backprop import dataloader_epochs, train_bp
from ff_algos.data import LoadedDataset, Split
from ff_algos.ff import train_ff
from ff_algos.observe import TrainObserver
from ff_algos.recipes import BPRecipe, FFRecipe, Recipe, RecipeError
from ff_algos.training import DivergenceError

__all__ = ["Classifier", "DivergenceError", "FitResult", "accuracy", "fit", "training_rows"]


class Classifier(Protocol):
    """A trained model that labels inputs."""

    def predict(self, x: Tensor) -> Tensor:
        """Labels (N,) int64 on ``x``'s device for inputs ``x`` (N, D); chunked internally."""
        ...


@dataclass(frozen=True)
class FitResult:
    """A trained model, the rows it was trained on, its loss history and the implementation
    choices that actually ran."""

    model: Classifier
    train: Split  # the rows actually trained on (recipe.train_size subset, seeded)
    losses: dict[str, list[float]]  # phase -> per-epoch mean loss, read from the device once
    options: dict[str, Any]  # e.g. compiled, cuda_graphs, goodness, negatives, input_pipeline


def training_rows(recipe: Recipe, data: LoadedDataset) -> Split:
    """The training rows ``recipe`` uses: all of ``data.train``, or a seeded subset of
    ``recipe.train_size`` rows."""
    n = len(data.train)
    if recipe.train_size is None or recipe.train_size == n:
        return data.train
    if not 0 < recipe.train_size <= n:
        raise RecipeError(
            f"train_size={recipe.train_size} but {data.info.name} has {n} training rows; "
            f"use 1..{n} or none (all)"
        )
    return data.train.subset(recipe.train_size, recipe.seed)


def fit(recipe: Recipe, data: LoadedDataset, *, observer: TrainObserver | None = None) -> FitResult:
    """Train ``recipe`` on ``data.train`` (its ``train_size`` subset) on the data's device.

    Raises :class:`DivergenceError` if the loss becomes non-finite and
    :class:`~ff_algos.recipes.RecipeError` for a recipe that cannot run on this data.
    """
    train = training_rows(recipe, data)
    num_classes = data.info.num_classes
    if isinstance(recipe, FFRecipe):
        ff = train_ff(recipe, train.x, train.y, num_classes, observer)
        return FitResult(model=ff.model, train=train, losses=ff.losses, options=ff.options)
    if isinstance(recipe, BPRecipe):
        loader = (
            dataloader_epochs(recipe, data, train)
            if recipe.input_pipeline == "dataloader"
            else None
        )
        bp = train_bp(recipe, train.x, train.y, num_classes, observer, loader_epochs=loader)
        options = dict(bp.options)
        if loader is not None:
            options["loader_workers"] = recipe.loader_workers
        return FitResult(model=bp.model, train=train, losses=bp.losses, options=options)
    raise RecipeError(f"unknown recipe type {type(recipe).__name__}; use FFRecipe or BPRecipe")


def accuracy(model: Classifier, split: Split) -> float:
    """Fraction of ``split`` that ``model`` labels correctly (one host read, at the end)."""
    if len(split) == 0:
        raise RecipeError("cannot score an empty split")
    correct = (model.predict(split.x) == split.y).sum()
    return int(correct.item()) / len(split)

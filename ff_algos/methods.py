"""One entry point for every training method: :func:`fit` a recipe to a dataset, get the trained
model with the rows it saw, score it with :func:`accuracy`.

The method is found in :mod:`ff_algos.registry` by the recipe's ``method``; the training rows are
chosen here, once (the recipe's ``train_size`` subset, seeded), for every method.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ff_algos import registry
from ff_algos.data import LoadedDataset, Split
from ff_algos.method import Classifier
from ff_algos.observe import NullObserver, TrainObserver
from ff_algos.recipes import RecipeError
from ff_algos.training import DivergenceError

__all__ = ["Classifier", "DivergenceError", "FitResult", "accuracy", "fit", "training_rows"]


@dataclass(frozen=True)
class FitResult:
    """A trained model, the rows it was trained on, its loss history, the implementation
    choices that actually ran and any further predictors to score."""

    model: Classifier
    train: Split  # the rows actually trained on (recipe.train_size subset, seeded)
    losses: dict[str, list[float]]  # phase -> per-epoch mean loss, read from the device once
    options: dict[str, Any]  # e.g. compile, precision, goodness, negatives, input_pipeline
    predictors: Mapping[str, Classifier] = dataclasses.field(default_factory=dict)


def training_rows(recipe: Any, data: LoadedDataset) -> Split:
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


def fit(recipe: Any, data: LoadedDataset, *, observer: TrainObserver | None = None) -> FitResult:
    """Train ``recipe`` with its method on ``data.train`` (its ``train_size`` subset) on the
    data's device.

    Raises :class:`DivergenceError` if the loss becomes non-finite and
    :class:`~ff_algos.recipes.RecipeError` for a recipe that cannot run on this data.
    """
    method = registry.get(recipe.method)
    method.validate(recipe, data.info)
    train = training_rows(recipe, data)
    subset = dataclasses.replace(data, train=train)
    fitted = method.fit(recipe, subset, observer if observer is not None else NullObserver())
    return FitResult(fitted.model, train, fitted.losses, fitted.options, fitted.predictors)


def accuracy(model: Classifier, split: Split) -> float:
    """Fraction of ``split`` that ``model`` labels correctly (one host read, at the end)."""
    if len(split) == 0:
        raise RecipeError("cannot score an empty split")
    correct = (model.predict(split.x) == split.y).sum()
    return int(correct.item()) / len(split)

"""One entry point for every training method: :func:`fit` a recipe to a dataset, get the trained
model with the rows it saw, score it with :func:`accuracy`.

The method is found in :mod:`ff_algos.registry` by the recipe's ``method``; the training rows are
chosen here, once (the recipe's ``train_size`` subset, seeded), for every method.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ff_algos import registry
from ff_algos.data import LoadedDataset, Split
from ff_algos.errors import DivergenceError, RecipeError
from ff_algos.method import Classifier, Fitted, NullObserver, TrainObserver

__all__ = [
    "Classifier",
    "DivergenceError",
    "FitResult",
    "accuracy",
    "fit",
    "training_rows",
    "validation_split",
]


@dataclass(frozen=True)
class FitResult(Fitted[Classifier]):
    """What the method's :class:`~ff_algos.method.Fitted` holds, and the rows it trained on."""

    train: Split = dataclasses.field(kw_only=True)  # the recipe's train_size subset, seeded


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


AUTO_VAL_ROWS = 5000  # validation rows by default, where the recipe leaves that many unused
UNUSED = "unused training rows"
CARVED = "carved from the training split"


def validation_split(
    recipe: Any, data: LoadedDataset, size: int | None
) -> tuple[LoadedDataset, Split | None, str]:
    """Validation rows for learning curves, drawn (seeded by ``recipe.seed``) from the training
    split and never trained on: ``(data to fit on, validation rows, where they came from or why
    there are none)``.

    ``size`` None (auto): up to :data:`AUTO_VAL_ROWS` of the rows the recipe's ``train_size``
    subset leaves unused, so training is unchanged; none when the recipe trains on every row.
    ``size`` N: N rows, from the unused rows when there are enough, else carved from the training
    split (which then has N rows fewer; ``train_size`` applies to the rest). 0: none.
    """
    n = len(data.train)
    if size == 0:
        return data, None, "learning curve switched off (--val-size 0)"
    if size is not None and not 0 < size < n:
        raise RecipeError(
            f"--val-size {size}: {data.info.name} has {n} training rows; use 1..{n - 1}"
        )
    train = training_rows(recipe, data)
    unused = _unused_rows(train, n)
    wanted = min(AUTO_VAL_ROWS, len(unused)) if size is None else size
    if size is None and wanted == 0:
        return (
            data,
            None,
            (
                "the recipe trains on every training row; pass --val-size N to carve N validation "
                "rows from the training split (training then sees N rows fewer)"
            ),
        )
    generator = torch.Generator().manual_seed(recipe.seed + 7919)
    if len(unused) >= wanted:
        rows = unused[torch.randperm(len(unused), generator=generator)[:wanted]].sort().values
        return data, _rows(data.train, rows), UNUSED
    perm = torch.randperm(n, generator=generator)
    val_rows, rest = perm[:wanted].sort().values, perm[wanted:].sort().values
    carved = dataclasses.replace(data, train=_rows(data.train, rest))
    return carved, _rows(data.train, val_rows), CARVED


def _unused_rows(train: Split, n: int) -> torch.Tensor:
    """Indices (CPU, sorted) of the full split's rows that ``train`` does not hold."""
    if train.rows is None:
        return torch.empty(0, dtype=torch.int64)
    keep = torch.ones(n, dtype=torch.bool)
    keep[train.rows] = False
    return keep.nonzero().flatten()


def _rows(split: Split, rows: torch.Tensor) -> Split:
    on_device = rows.to(split.x.device)
    return Split(split.x[on_device], split.y[on_device], rows)


def fit(recipe: Any, data: LoadedDataset, *, observer: TrainObserver | None = None) -> FitResult:
    """Train ``recipe`` with its method on ``data.train`` (its ``train_size`` subset) on the
    data's device.

    Raises :class:`DivergenceError` if the loss becomes non-finite and
    :class:`~ff_algos.errors.RecipeError` for a recipe that cannot run on this data.
    """
    method = registry.get(recipe.method)
    method.validate(recipe, data.info)
    train = training_rows(recipe, data)
    subset = dataclasses.replace(data, train=train)
    fitted = method.fit(recipe, subset, observer if observer is not None else NullObserver())
    return FitResult(fitted.model, fitted.losses, fitted.options, fitted.predictors, train=train)


def accuracy(model: Classifier, split: Split) -> float:
    """Fraction of ``split`` that ``model`` labels correctly (one host read, at the end)."""
    if len(split) == 0:
        raise RecipeError("cannot score an empty split")
    correct = (model.predict(split.x) == split.y).sum()
    return int(correct.item()) / len(split)

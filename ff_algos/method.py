"""The method contract: what every training method gives the benchmark suite.

A method is one module that defines a frozen recipe dataclass, its named recipes and an object
satisfying :class:`Method`; :mod:`ff_algos.registry` maps method names to those objects. The
suite, the floors, the summary and the report never name a method: they ask the registry. A
method from outside the package registers the same way (see :mod:`ff_algos.registry`).

The suite owns everything around a method: it picks the training rows once (``train_size``
subset, seeded), times the epochs through the observer, measures memory and energy, scores the
predictors, and records what :meth:`Method.fit` says ran.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from torch import Tensor

from ff_algos.data import DatasetInfo, LoadedDataset
from ff_algos.observe import TrainObserver
from ff_algos.recipes import FlopCount


class Recipe(Protocol):
    """The fields every recipe has (it is a frozen dataclass with more fields of its own)."""

    @property
    def name(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def train_size(self) -> int | None: ...
    @property
    def precision(self) -> str: ...
    @property
    def compile(self) -> str: ...
    @property
    def method(self) -> str: ...


class Classifier(Protocol):
    """A trained model that labels inputs."""

    def predict(self, x: Tensor) -> Tensor:
        """Labels (N,) int64 on ``x``'s device for inputs ``x`` (N, D); chunked internally."""
        ...


ModelT = TypeVar("ModelT", bound=Classifier, covariant=True)


@dataclass(frozen=True)
class Fitted(Generic[ModelT]):
    """What training produced: the model, its per-epoch losses (phase -> mean loss per epoch,
    read from the device once), the implementation choices that ran, and any further predictors
    to score beside ``model`` (e.g. a linear head: name -> classifier)."""

    model: ModelT
    losses: dict[str, list[float]]
    options: dict[str, Any]
    predictors: Mapping[str, Classifier] = field(default_factory=dict)


class Method(Protocol):
    """One training method (``ff``, ``bp``, hybrids, ...)."""

    name: str
    description: str  # one line, shown by --help and the report
    recipes: Mapping[str, Any]  # recipe name -> frozen recipe (seed, quick, tiny, ...)

    def validate(self, recipe: Any, info: DatasetInfo) -> None:
        """Raise :class:`~ff_algos.recipes.RecipeError` (one line: what and how to fix) for a
        recipe that cannot train on this dataset; called before any case runs."""
        ...

    def fit(self, recipe: Any, data: LoadedDataset, observer: TrainObserver) -> Fitted[Any]:
        """Train on ``data.train`` (already the recipe's row subset) on its device."""
        ...

    def flops(self, recipe: Any, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs of the plain algorithm (matrix products, 2 per multiply-add)."""
        ...

    def executed_flops(self, recipe: Any, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """FLOPs the implementation really executes in training, per phase (the phases the
        observer sees), matching ``torch.utils.flop_counter.FlopCounterMode``."""
        ...

    def warm_up_recipe(self, recipe: Any, rows: int) -> Any:
        """A short version of ``recipe`` (an epoch or so on ``rows`` rows, eager) that runs the
        same code paths, for the untimed warm-up."""
        ...


class CountingRecipe(Recipe, Protocol):
    """A recipe that counts its own FLOPs on a dataset (conv, attention and strong FF, their
    baselines)."""

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount: ...
    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]: ...


RecipeT = TypeVar("RecipeT", bound=CountingRecipe)

_PHASE_EPOCHS = ("head_epochs", "finetune_epochs")  # later phases a warm-up runs once


def short_run(recipe: RecipeT, rows: int) -> RecipeT:
    """The warm-up version of a dataclass ``recipe``: one epoch of every phase on ``rows``
    rows, eager (``compile="none"``), so the same code paths run without the timed work."""
    names = {f.name for f in dataclasses.fields(recipe)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {"epochs": 1, "train_size": rows, "compile": "none"}
    changes.update({p: min(getattr(recipe, p), 1) for p in _PHASE_EPOCHS if p in names})
    return dataclasses.replace(recipe, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class RecipeMethod(Generic[RecipeT]):
    """A :class:`Method` whose recipes count their own FLOPs: the module gives its name, its
    recipes, a check and a training function, and this does the rest of the contract."""

    name: str
    description: str
    recipes: Mapping[str, RecipeT]
    check: Callable[[RecipeT, DatasetInfo], None]
    train: Callable[[RecipeT, LoadedDataset, TrainObserver], Fitted[Any]]

    def validate(self, recipe: RecipeT, info: DatasetInfo) -> None:
        self.check(recipe, info)

    def fit(self, recipe: RecipeT, data: LoadedDataset, observer: TrainObserver) -> Fitted[Any]:
        return self.train(recipe, data, observer)

    def flops(self, recipe: RecipeT, n_train: int, info: DatasetInfo) -> FlopCount:
        return recipe.flops(n_train, info)

    def executed_flops(self, recipe: RecipeT, n_train: int, info: DatasetInfo) -> dict[str, int]:
        return recipe.executed_flops(n_train, info)

    def warm_up_recipe(self, recipe: RecipeT, rows: int) -> RecipeT:
        return short_run(recipe, rows)

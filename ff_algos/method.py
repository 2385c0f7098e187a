"""The method contract: the types every training method and the suite speak, and nothing else.

A method is one module ``ff_algos/methods/<name>.py`` that defines a frozen recipe dataclass,
its named recipes and ``METHOD``, a :class:`Method` named after the file (usually a
:class:`RecipeMethod`); :mod:`ff_algos.registry` finds it by that name. Training code reports to
a :class:`TrainObserver` as it queues work; the suite owns everything around a method: it picks
the training rows once (``train_size`` subset, seeded), times the epochs through the observer,
measures memory and energy, scores the predictors, and records what :meth:`Method.fit` says ran.

This module is the leaf of the package's import graph: it imports no method, no registry and no
suite, so every side can depend on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from torch import Tensor

from ff_algos.data import DatasetInfo, LoadedDataset


class Classifier(Protocol):
    """A trained model that labels inputs."""

    def predict(self, x: Tensor) -> Tensor:
        """Labels (N,) int64 on ``x``'s device for inputs ``x`` (N, D); chunked internally."""
        ...


class TrainObserver(Protocol):
    """Hooks a training loop calls from the host as it *queues* work: a phase per FF layer (one
    for backprop), a tick per epoch. Implementations must not synchronise the device (no
    ``.item()``, no ``torch.cuda.synchronize()``), so that observing a run does not change how
    fast it goes."""

    def phase_start(self, name: str, epochs: int) -> None:
        """A phase (for example ``"layer1"`` or ``"train"``) of ``epochs`` epochs begins."""

    def epoch_end(self, epoch: int) -> None:
        """Epoch ``epoch`` (0-based) of the current phase has been queued."""

    def phase_end(self) -> None:
        """The current phase has been queued in full."""


@runtime_checkable
class ModelObserver(Protocol):
    """An observer that also looks at the network trained so far (learning curves)."""

    def checkpoint(self, epoch: int, model: Callable[[], Classifier]) -> None:
        """Epoch ``epoch`` of the current phase has ended (after ``epoch_end``); ``model()``
        builds a classifier of the network trained so far. The observer may evaluate it (and
        synchronise the device to do so); it keeps that work out of the epochs' time."""


def offer_model(observer: TrainObserver, epoch: int, model: Callable[[], Classifier]) -> None:
    """Called by training loops after ``epoch_end``: hand the network trained so far to an
    observer that looks at models (observers without ``checkpoint`` are left alone)."""
    if isinstance(observer, ModelObserver):
        observer.checkpoint(epoch, model)


class NullObserver:
    """Observes nothing."""

    def phase_start(self, name: str, epochs: int) -> None:
        pass

    def epoch_end(self, epoch: int) -> None:
        pass

    def phase_end(self) -> None:
        pass


class FanOut:
    """Forwards every hook to several observers, in order."""

    def __init__(self, observers: Sequence[TrainObserver]) -> None:
        self._observers = tuple(observers)

    def phase_start(self, name: str, epochs: int) -> None:
        for o in self._observers:
            o.phase_start(name, epochs)

    def epoch_end(self, epoch: int) -> None:
        for o in self._observers:
            o.epoch_end(epoch)

    def phase_end(self) -> None:
        for o in self._observers:
            o.phase_end()

    def checkpoint(self, epoch: int, model: Callable[[], Classifier]) -> None:
        for o in self._observers:
            offer_model(o, epoch, model)


@dataclass(frozen=True)
class FlopCount:
    """Analytic FLOPs of one run: training forward and backward (all epochs), and one prediction
    pass over ``predict_samples`` samples."""

    forward: int
    backward: int
    predict: int
    predict_samples: int

    @property
    def train(self) -> int:
        """Training FLOPs, forward plus backward."""
        return self.forward + self.backward

    def predict_for(self, samples: int) -> int:
        """Prediction FLOPs scaled to ``samples`` samples."""
        if self.predict_samples == 0:
            return 0
        return self.predict * samples // self.predict_samples


class Recipe(Protocol):
    """What every recipe is: a frozen dataclass with these fields (and more of its own) that
    counts its own FLOPs on a dataset."""

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

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs of the plain algorithm (matrix products, 2 per multiply-add)."""
        ...

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """FLOPs the implementation really executes in training, per phase (the phases the
        observer sees), matching ``torch.utils.flop_counter.FlopCounterMode``."""
        ...


ModelT = TypeVar("ModelT", bound=Classifier, covariant=True)
RecipeT = TypeVar("RecipeT", bound=Recipe)


@dataclass(frozen=True)
class Fitted(Generic[ModelT]):
    """What training produced: the model, its per-epoch losses (phase -> mean loss per epoch,
    read from the device once), the implementation choices that ran, and any further predictors
    to score beside ``model`` (e.g. a linear head: name -> classifier)."""

    model: ModelT
    losses: dict[str, list[float]]
    options: dict[str, Any]
    predictors: Mapping[str, Classifier] = field(default_factory=dict)


class Method(Protocol[RecipeT]):
    """One training method (``ff``, ``bp``, hybrids, ...)."""

    @property
    def name(self) -> str:
        """The method's name: its module's file name."""
        ...

    @property
    def description(self) -> str:
        """One line, shown by --help and the report."""
        ...

    @property
    def recipes(self) -> Mapping[str, RecipeT]:
        """Recipe name -> frozen recipe (seed, quick, tiny, ...)."""
        ...

    def validate(self, recipe: RecipeT, info: DatasetInfo) -> None:
        """Raise :class:`~ff_algos.errors.RecipeError` (one line: what and how to fix) for a
        recipe that cannot train on this dataset; called before any case runs."""
        ...

    def fit(self, recipe: RecipeT, data: LoadedDataset, observer: TrainObserver) -> Fitted[Any]:
        """Train on ``data.train`` (already the recipe's row subset) on its device."""
        ...

    def flops(self, recipe: RecipeT, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs of the plain algorithm (matrix products, 2 per multiply-add)."""
        ...

    def executed_flops(self, recipe: RecipeT, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """FLOPs the implementation really executes in training, per phase."""
        ...

    def warm_up_recipe(self, recipe: RecipeT, rows: int) -> RecipeT:
        """A short version of ``recipe`` (an epoch or so on ``rows`` rows, eager) that runs the
        same code paths, for the untimed warm-up."""
        ...


# what a Method has, read off the protocol (the registry checks a method from outside for these)
METHOD_MEMBERS = tuple(name for name in vars(Method) if not name.startswith("_"))

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
    """A :class:`Method` from its parts: the module gives its name, its recipes, a check and a
    training function; the recipes count their own FLOPs; the warm-up is :func:`short_run`."""

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


def recipe_fields(recipe: Any) -> list[str]:
    """Names of the fields a user may override (``name`` excluded)."""
    return [f.name for f in dataclasses.fields(recipe) if f.name != "name"]


def recipe_dict(recipe: Any) -> dict[str, Any]:
    """The recipe as plain JSON-ready data, with its method."""
    data = dataclasses.asdict(recipe)
    for key, value in data.items():
        if isinstance(value, tuple):
            data[key] = list(value)
    data["method"] = recipe.method
    return data

"""Named, frozen training recipes for Forward-Forward (``ff``) and backprop (``bp``).

A recipe is the complete description of one training run: architecture, optimiser, schedule and
data subset. ``seed`` reproduces the reference study (2x500 hidden units; FF: Adam lr 0.03,
threshold 2.0, 1000 full-batch epochs per layer; backprop: Adam lr 1e-3, batch 256, 20 epochs).
``quick`` finishes in well under a minute per dataset on 2 CPU cores and still learns; ``tiny``
exists for the test suite. Any field can be overridden by name, from Python
(:func:`dataclasses.replace`) or from strings (:func:`apply_overrides`, used by ``--set``).
``precision`` and ``compile`` choose how the same algorithm is executed (number format, eager or
compiled or graph-captured); they are recorded with every result.

Each recipe also knows its analytic FLOP count (:meth:`FFRecipe.flops`, :meth:`BPRecipe.flops`):
the multiply-adds of the plain algorithm, two FLOPs each, counting matrix products only. Fast
implementations that skip redundant work still report these *model* FLOPs, so achieved FLOP/s is
comparable across implementations (like model FLOPs utilisation).
"""

from __future__ import annotations

import dataclasses
import itertools
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from ff_algos.compiled import COMPILE_MODES, Compile
from ff_algos.errors import FFBenchError
from ff_algos.precision import PRECISIONS, Precision

Goodness = Literal["mean", "sum"]
Negatives = Literal["permute", "wrong_label"]
InputPipeline = Literal["tensor", "dataloader"]


class RecipeError(FFBenchError, ValueError):
    """A recipe name, field or value that does not exist or does not parse."""


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


def _widths(input_size: int, hidden: tuple[int, ...]) -> list[tuple[int, int]]:
    dims = (input_size, *hidden)
    return list(itertools.pairwise(dims))


@dataclass(frozen=True)
class FFRecipe:
    """Forward-Forward: greedy layer-wise training with the label overlaid on the input."""

    name: str = "seed"
    hidden: tuple[int, ...] = (500, 500)
    epochs: int = 1000  # per layer
    batch_size: int | None = None  # None: the whole training split as one batch
    lr: float = 0.03
    threshold: float = 2.0
    goodness: Goodness = "mean"
    negatives: Negatives = "permute"
    train_size: int | None = None  # None: the whole training split
    seed: int = 0
    nan_check_every: int = 50  # epochs between non-finite-loss checks (one host sync each)
    predict_batch_size: int = 10000  # rows per prediction chunk
    precision: Precision = "fp32"  # fp32 | tf32 (CUDA) | bf16 products, fp32 master weights
    compile: Compile = "none"  # none | inductor (torch.compile) | cudagraphs (CUDA)

    method: typing.ClassVar[str] = "ff"

    def flops(self, n_train: int, input_size: int, num_classes: int) -> FlopCount:
        """Model FLOPs: per layer and epoch, positive and negative forward passes (2·N rows) and the
        weight gradient (inputs are detached, so no input gradient); prediction runs every layer
        once per candidate label."""
        layers = _widths(input_size, self.hidden)
        per_row = sum(2 * i * o for i, o in layers)
        forward = self.epochs * 2 * n_train * per_row
        return FlopCount(
            forward=forward,
            backward=forward,
            predict=num_classes * per_row,
            predict_samples=1,
        )

    def executed_flops(self, n_train: int, input_size: int, num_classes: int) -> dict[str, int]:
        """Training FLOPs the fast path really executes (:mod:`ff_algos.ff`, matrix products
        only), per layer: layer 1 computes the image product once for positives and negatives
        (forward and weight gradient) plus rank-C label products; deeper layers run as the plain
        algorithm; each layer but the last runs forward once more to hand its outputs on."""
        (d, h1), *rest = _widths(input_size, self.hidden)
        forward = [2 * n_train * d * h1 + 2 * (2 * n_train) * num_classes * h1]
        forward += [2 * (2 * n_train) * i * o for i, o in rest]
        last = len(forward) - 1
        return {
            f"layer{k + 1}": self.epochs * 2 * f + (f if k < last else 0)
            for k, f in enumerate(forward)
        }


@dataclass(frozen=True)
class BPRecipe:
    """Backprop: an MLP of the same hidden shape plus a linear head, cross entropy."""

    name: str = "seed"
    hidden: tuple[int, ...] = (500, 500)
    epochs: int = 20
    batch_size: int | None = 256  # None: full batch
    lr: float = 1e-3
    train_size: int | None = None
    seed: int = 0
    input_pipeline: InputPipeline = "tensor"  # "dataloader": torchvision dataset + DataLoader
    loader_workers: int = 0  # DataLoader worker processes (dataloader pipeline only)
    predict_batch_size: int = 10000
    nan_check_every: int = 5  # epochs between non-finite-loss checks (one host sync each)
    precision: Precision = "fp32"  # fp32 | tf32 (CUDA) | bf16 autocast, fp32 master weights
    compile: Compile = "none"  # none | inductor (torch.compile) | cudagraphs (CUDA)

    method: typing.ClassVar[str] = "bp"

    def flops(self, n_train: int, input_size: int, num_classes: int) -> FlopCount:
        """Model FLOPs: forward through hidden layers and head; backward computes weight gradients
        for every layer and input gradients for every layer but the first."""
        layers = _widths(input_size, (*self.hidden, num_classes))
        per_row = sum(2 * i * o for i, o in layers)
        first = 2 * layers[0][0] * layers[0][1]
        forward = self.epochs * n_train * per_row
        backward = self.epochs * n_train * (2 * per_row - first)
        return FlopCount(forward=forward, backward=backward, predict=per_row, predict_samples=1)

    def executed_flops(self, n_train: int, input_size: int, num_classes: int) -> dict[str, int]:
        """Training FLOPs executed: the plain algorithm's (nothing is skipped)."""
        return {"train": self.flops(n_train, input_size, num_classes).train}


def check_schedule(prefix: str, epochs: int, lr: float, batch_size: int | None) -> None:
    """Raise :class:`RecipeError` for a training schedule that cannot train: ``prefix`` names
    the fields (``""`` for ``epochs``/``lr``/``batch_size``, ``"head_"`` for ``head_epochs``...)."""
    if epochs < 1:
        raise RecipeError(f"{prefix}epochs={epochs} trains nothing; use {prefix}epochs=1 or more")
    if not lr > 0:
        raise RecipeError(f"{prefix}lr={lr!r} must be positive, e.g. --set {prefix}lr=0.001")
    if batch_size is not None and batch_size < 1:
        raise RecipeError(
            f"{prefix}batch_size={batch_size} must be a positive integer or none (full batch)"
        )


def check_run_fields(
    recipe: Any,
    method: str,
    compiles: Sequence[str] = COMPILE_MODES,
    choices: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Raise :class:`RecipeError` for the run-control fields most recipes share: non-finite-loss
    checks (``nan_check_every >= 0``), ``predict_batch_size >= 1``, a known ``precision``, a
    ``compile`` mode ``method`` supports (``compiles``), and each field of ``choices`` among its
    allowed values."""
    if recipe.nan_check_every < 0:
        raise RecipeError("nan_check_every must be >= 0 (0: check only at the end)")
    if recipe.predict_batch_size < 1:
        raise RecipeError(f"predict_batch_size={recipe.predict_batch_size} must be positive")
    if recipe.precision not in PRECISIONS:
        raise RecipeError(
            f"precision={recipe.precision!r} is unknown; choose one of {', '.join(PRECISIONS)}"
        )
    if recipe.compile not in compiles:
        raise RecipeError(
            f"compile={recipe.compile!r} is not supported by {method}; "
            f"choose one of {', '.join(compiles)}"
        )
    for field, allowed in (choices or {}).items():
        value = getattr(recipe, field)
        if value not in allowed:
            raise RecipeError(f"{field}={value!r} is unknown; choose one of {', '.join(allowed)}")


def get_recipe(name: str, method: str) -> Any:
    """The recipe ``name`` of ``method``, from the method registry (one-line error if none)."""
    from ff_algos.registry import recipe  # the registry imports the methods, which import us

    return recipe(method, name)


def recipe_fields(recipe: Any) -> list[str]:
    """Names of the fields a user may override (``name`` excluded)."""
    return [f.name for f in dataclasses.fields(recipe) if f.name != "name"]


def apply_overrides(recipe: Any, overrides: dict[str, str], known: set[str] | None = None) -> Any:
    """A copy of ``recipe`` with fields set from strings (``"500,500"``, ``"none"``, ``"0.01"``).

    Fields the recipe does not have are errors unless they are in ``known`` (fields of the other
    methods in the session, so one ``--set`` list can serve them all); values that do not parse
    are always errors.
    """
    hints = typing.get_type_hints(type(recipe))
    known_anywhere = set(recipe_fields(recipe)) | (known or set())
    changes: dict[str, Any] = {}
    for key, text in overrides.items():
        if key not in recipe_fields(recipe):
            if key in known_anywhere:
                continue
            raise RecipeError(
                f"unknown recipe field {key!r}; valid fields: {', '.join(sorted(known_anywhere))}"
            )
        try:
            changes[key] = _parse(text, hints[key])
        except ValueError as exc:
            raise RecipeError(f"bad value for {key}: {text!r} ({exc})") from None
    return dataclasses.replace(recipe, **changes)


def recipe_dict(recipe: Any) -> dict[str, Any]:
    """The recipe as plain JSON-ready data, with its method."""
    data = dataclasses.asdict(recipe)
    for key, value in data.items():
        if isinstance(value, tuple):
            data[key] = list(value)
    data["method"] = recipe.method
    return data


def _parse(text: str, hint: Any) -> Any:
    """Parse ``text`` as a value of the annotated type ``hint``."""
    origin = get_origin(hint)
    args = get_args(hint)
    if origin in (Union, types.UnionType):
        if type(None) in args and text.strip().lower() in ("none", "null", "full", ""):
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse(text, inner[0])
    if origin is Literal:
        if text not in args:
            raise ValueError(f"expected one of {', '.join(map(str, args))}")
        return text
    if origin is tuple:
        parts = [p for p in text.replace(" ", "").split(",") if p]
        if not parts:
            raise ValueError("expected comma-separated integers, e.g. 500,500")
        return tuple(_parse(p, args[0]) for p in parts)
    if hint is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("expected true or false")
        return lowered in ("true", "1", "yes")
    if hint is int:
        value = int(text)
        if value < 0:
            raise ValueError("expected a non-negative integer")
        return value
    if hint is float:
        return float(text)
    if hint is str:
        return text
    raise ValueError(f"cannot parse type {hint}")

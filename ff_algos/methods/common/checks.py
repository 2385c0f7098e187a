"""The checks most recipes share: a trainable schedule and the run-control fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ff_algos.errors import RecipeError
from ff_algos.methods.common.compiled import COMPILE_MODES
from ff_algos.methods.common.precision import PRECISIONS


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
    precisions: Sequence[str] = PRECISIONS,
) -> None:
    """Raise :class:`RecipeError` for the run-control fields most recipes share: non-finite-loss
    checks (``nan_check_every >= 0``), ``predict_batch_size >= 1``, a known ``precision`` that
    ``method`` runs (``precisions``), a ``compile`` mode it supports (``compiles``), and each
    field of ``choices`` among its allowed values."""
    if recipe.nan_check_every < 0:
        raise RecipeError("nan_check_every must be >= 0 (0: check only at the end)")
    if recipe.predict_batch_size < 1:
        raise RecipeError(f"predict_batch_size={recipe.predict_batch_size} must be positive")
    if recipe.precision not in PRECISIONS:
        raise RecipeError(
            f"precision={recipe.precision!r} is unknown; choose one of {', '.join(PRECISIONS)}"
        )
    if recipe.precision not in precisions:
        raise RecipeError(
            f"precision={recipe.precision!r} is not supported by {method}; "
            f"choose one of {', '.join(precisions)}"
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

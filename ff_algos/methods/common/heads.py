"""A classifier made of any predict function: how a method scores a second predictor (a linear
head beside its goodness predictor) without a class of its own for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class Predictor:
    """A :class:`~ff_algos.method.Classifier` whose ``predict`` is ``labels``."""

    labels: Callable[[Tensor], Tensor]  # inputs (N, D) -> labels (N,) int64

    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64."""
        return self.labels(x)

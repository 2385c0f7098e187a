"""The errors of multi-process runs (one line each: what was wrong, how to fix it)."""

from __future__ import annotations

from ff_algos.errors import FFBenchError, RecipeError


class WorldError(RecipeError):
    """A world that cannot run as asked (too many ranks, a split that does not divide, a backend
    the device lacks); raised before any process starts."""


class RankFailedError(FFBenchError):
    """A rank of a running world died, raised or timed out; the message names the rank."""

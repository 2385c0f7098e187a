"""The sweep's one-line usage errors."""

from __future__ import annotations

from ff_algos.errors import FFBenchError


class SweepError(FFBenchError):
    """A bad grid, shard, sweep or merge request: what was wrong and how to fix it."""

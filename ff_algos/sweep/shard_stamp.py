"""What a shard's saved run says about the sweep it belongs to (the top-level ``ff_bench_shard``
key of its pytest-benchmark JSON): its slice, every case id of the whole matrix, and the options
that made the matrix. ``ff-bench merge`` checks the options agree and names missing cases."""

from __future__ import annotations

from typing import Any

from ff_algos.suite.options import SuiteOptions

KEY = "ff_bench_shard"


def shard_record(options: SuiteOptions, matrix: list[str]) -> dict[str, Any]:
    """The ``ff_bench_shard`` value of a shard session's saved run."""
    return {
        "shard": str(options.shard),
        "cases": matrix,
        "options": options_record(options),
    }


def options_record(options: SuiteOptions) -> dict[str, Any]:
    """The options every shard of one sweep must share, as plain JSON data."""
    return {
        "recipe": options.recipe_name,
        "datasets": list(options.datasets),
        "methods": list(options.methods),
        "seeds": options.seeds,
        "set": [f"{k}={v}" for k, v in options.overrides],
        "grid": {a.field: list(a.values) for a in options.grid},
        "rounds": options.rounds,
        "device": options.device,
    }

"""The case matrix of a session: every dataset x method x grid point x seed, with its case id.

``bench/conftest.py`` parametrizes ``test_fit`` from it and ``ff-bench sweep`` deals it into
shards, so both name the same cases the same way: ``mnist-ff-seed0`` without a grid,
``mnist-ff-threshold=1-lr=0.01-seed0`` with one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ff_algos.suite.grid import Point, point_id, points
from ff_algos.suite.options import SuiteOptions
from ff_algos.suite.shard import select


@dataclass(frozen=True)
class CaseKey:
    """One case of the matrix."""

    dataset: str
    method: str
    point: Point
    seed: int

    @property
    def id(self) -> str:
        """The pytest id of the case (``test_fit[<id>]``)."""
        middle = f"{point_id(self.point)}-" if self.point else ""
        return f"{self.dataset}-{self.method}-{middle}seed{self.seed}"


def case_matrix(options: SuiteOptions) -> list[CaseKey]:
    """Every case of the session, in run order (shards not applied)."""
    return [
        CaseKey(d, m, p, s)
        for d in options.datasets
        for m in options.methods
        for p in points(options.grid)
        for s in range(options.seeds)
    ]


def shard_cases(options: SuiteOptions) -> list[CaseKey]:
    """The cases this session runs: the whole matrix, or its ``--shard`` slice."""
    cases = case_matrix(options)
    if options.shard is None:
        return cases
    chosen = select((c.id for c in cases), options.shard)
    return [c for c in cases if c.id in chosen]

"""Shards: ``--shard K/N`` runs a deterministic slice of the case matrix.

Case ids are sorted and dealt round-robin, the i-th id (0-based) to shard ``i % N + 1``: the N
slices are disjoint, cover the matrix, differ in size by at most one, and do not depend on the
order in which pytest collects the cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ff_algos.suite.errors import OptionError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based: ``1/4`` .. ``4/4``)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/4"`` as a :class:`Shard`; anything else is an :class:`OptionError`."""
    match = _SHARD.match(text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise OptionError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. --shard 2/4")
    return Shard(int(match[1]), int(match[2]))


def assign(case_ids: Iterable[str], count: int) -> dict[str, int]:
    """Each case id's shard number (1..count)."""
    return {case: i % count + 1 for i, case in enumerate(sorted(set(case_ids)))}


def select(case_ids: Iterable[str], shard: Shard) -> set[str]:
    """The case ids shard ``shard`` runs."""
    return {c for c, k in assign(case_ids, shard.count).items() if k == shard.index}

"""The record's ``parallel`` section (:class:`~ff_algos.record.ParallelRecord`, as saved JSON)
from a world's rank results and its serial references.

The world's epoch time is its training wall time (start barrier to end barrier, the fill and
drain of a pipeline included) over its epochs, the slowest rank's; the speedup is the serial
reference's epoch time with ``threads_per_rank`` threads over it, the efficiency that speedup
over the ranks; ``speedup_vs_same_threads`` compares with the serial run given as many threads
as the whole world has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ff_algos.parallel.run import WorldRun
from ff_algos.record import ParallelRecord, RankRecord, SerialReference


@dataclasses.dataclass(frozen=True)
class Shape:
    """How the method laid the work out."""

    strategy: str
    layers_per_rank: int | None
    microbatches: int
    schedule: str
    busy_basis: str
    bytes_basis: str


def epoch_seconds(result: Mapping[str, Any], epochs: int) -> float:
    """A rank's training wall time per epoch."""
    return float(result["report"]["train_seconds"]) / max(1, epochs)


def section(
    run: WorldRun,
    shape: Shape,
    threads: int,
    epochs: int,
    rows_per_epoch: int,
    weights_match: bool | None,
    pipelined_test_accuracy: float | None = None,
) -> dict[str, Any]:
    """The ``parallel`` section as JSON-ready data (round-trips through
    :func:`~ff_algos.record.parallel_from`)."""
    world = len(run.ranks)
    epoch = max(epoch_seconds(r, epochs) for r in run.ranks)
    refs = tuple(
        SerialReference(t, epoch_seconds(r, epochs), rows_per_epoch / epoch_seconds(r, epochs))
        for t, r in sorted(run.serial.items())
    )
    by_threads = {ref.threads: ref for ref in refs}
    same_rank = by_threads.get(threads)
    same_total = by_threads.get(threads * world)
    speedup = same_rank.epoch_seconds / epoch if same_rank is not None else None
    record = ParallelRecord(
        strategy=shape.strategy,
        world=world,
        layers_per_rank=shape.layers_per_rank,
        microbatches=shape.microbatches,
        schedule=shape.schedule,
        backend=run.backend,
        launcher=run.launcher,
        threads_per_rank=threads,
        epochs=epochs,
        rows_per_epoch=rows_per_epoch,
        epoch_seconds=epoch,
        rows_per_s=rows_per_epoch / epoch,
        serial=refs,
        speedup=speedup,
        speedup_vs_same_threads=same_total.epoch_seconds / epoch if same_total else None,
        efficiency=speedup / world if speedup is not None else None,
        ranks=tuple(
            dataclasses.replace(RankRecord(**r["report"]), layers=tuple(r["report"]["layers"]))
            for r in run.ranks
        ),
        busy_basis=shape.busy_basis,
        bytes_basis=shape.bytes_basis,
        weights_match_serial=weights_match,
        pipelined_test_accuracy=pipelined_test_accuracy,
    )
    out: dict[str, Any] = _plain(dataclasses.asdict(record))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value

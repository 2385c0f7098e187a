"""The rich table printed at the end of a ``pytest bench/`` session."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from ff_algos.record import CaseRecord
from ff_algos.telemetry import units


def summary_table(rows: Sequence[CaseRecord]) -> Table:
    """One line per finished case: accuracy, times, FLOP/s, utilisation, memory, energy."""
    table = Table(title="ff-bench: finished cases", show_lines=False)
    for header in (
        "dataset",
        "method",
        "seed",
        "acc train",
        "acc test",
        "floor",
        "end to end",
        "data",
        "train",
        "eval",
        "FLOP/s",
        "utilisation",
        "host RSS",
        "torch peak",
        "energy",
    ):
        table.add_column(header, justify="left" if header in ("dataset", "method") else "right")
    for r in rows:
        acc = r.accuracy
        verdict = "" if acc.passed is None else (" ok" if acc.passed else " FAIL")
        table.add_row(
            r.dataset,
            r.method,
            str(r.seed),
            f"{acc.train:.4f}",
            f"{acc.test:.4f}",
            units.accuracy(acc.floor) + verdict,
            units.seconds(r.seconds.end_to_end),
            units.seconds(r.seconds.data),
            units.seconds(r.seconds.train),
            units.seconds(r.seconds.eval),
            units.si(r.flops.train_per_s, "FLOP/s"),
            units.percent(r.flops.utilisation),
            units.nbytes(r.memory.host_peak_rss_bytes),
            units.nbytes(r.memory.torch_peak_bytes.train),
            units.si(r.energy.joules, "J"),
        )
    return table

"""The rich table printed at the end of a ``pytest bench/`` session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from ff_algos.telemetry import units


def summary_table(rows: Sequence[dict[str, Any]]) -> Table:
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
    for info in rows:
        acc, sec, flops, mem = info["accuracy"], info["seconds"], info["flops"], info["memory"]
        verdict = "" if acc["passed"] is None else (" ok" if acc["passed"] else " FAIL")
        table.add_row(
            info["dataset"],
            info["method"],
            str(info["seed"]),
            f"{acc['train']:.4f}",
            f"{acc['test']:.4f}",
            units.accuracy(acc["floor"]) + verdict,
            units.seconds(sec["end_to_end"]),
            units.seconds(sec["data"]),
            units.seconds(sec["train"]),
            units.seconds(sec["eval"]),
            units.si(flops["train_per_s"], "FLOP/s"),
            units.percent(flops["utilisation"]),
            units.nbytes(mem["host_peak_rss_bytes"]),
            units.nbytes(mem["torch_peak_bytes"].get("train")),
            units.si(info["energy"]["joules"], "J"),
        )
    return table

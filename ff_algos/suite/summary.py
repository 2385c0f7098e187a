"""The rich table printed at the end of a ``pytest bench/`` session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table


def _fmt(value: float | int | None, scale: float = 1.0, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value / scale:.{digits}f}"


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
        "e2e s",
        "data s",
        "train s",
        "eval s",
        "GFLOP/s",
        "util %",
        "RSS MiB",
        "torch MiB",
        "energy J",
    ):
        table.add_column(header, justify="left" if header in ("dataset", "method") else "right")
    for info in rows:
        acc, sec, flops, mem = info["accuracy"], info["seconds"], info["flops"], info["memory"]
        util = flops["utilisation"]
        floor = acc["floor"]
        verdict = "" if acc["passed"] is None else (" ok" if acc["passed"] else " FAIL")
        torch_peak = mem["torch_peak_bytes"].get("train")
        table.add_row(
            info["dataset"],
            info["method"],
            str(info["seed"]),
            f"{acc['train']:.4f}",
            f"{acc['test']:.4f}",
            ("n/a" if floor is None else f"{floor:.3f}") + verdict,
            _fmt(sec["end_to_end"]),
            _fmt(sec["data"]),
            _fmt(sec["train"]),
            _fmt(sec["eval"]),
            _fmt(flops["train_per_s"], 1e9, 1),
            _fmt(None if util is None else util * 100, 1.0, 1),
            _fmt(mem["host_peak_rss_bytes"], 2**20, 0),
            _fmt(torch_peak, 2**20, 0),
            _fmt(info["energy"]["joules"], 1.0, 1),
        )
    return table

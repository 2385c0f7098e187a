"""The report's section on multi-process cases (those with a ``parallel`` record section,
:class:`~ff_algos.record.ParallelRecord`): one table row per case (world, layout, time, speedup
over the serial references, the measured bubble, traffic, memory, bit-identity, accuracy) and a
speedup-vs-ranks figure with one line per dataset, method and strategy.

Inputs are cases with typed records, so any run holding parallel cases feeds it; runs without
any give no table and no figure.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from ff_algos.record import CaseRecord, ParallelRecord
from ff_algos.report.tables import Table
from ff_algos.telemetry import units

FIGURE = "parallel_speedup.png"


def _parallel(records: Sequence[CaseRecord]) -> list[tuple[CaseRecord, ParallelRecord]]:
    return [(r, r.parallel) for r in records if r.parallel is not None]


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _idle_share(p: ParallelRecord) -> str:
    shares = [
        r.idle_seconds / r.train_seconds
        for r in p.ranks
        if r.idle_seconds is not None and r.train_seconds > 0
    ]
    return f"{100 * sum(shares) / len(shares):.0f}%" if shares else "n/a"


def _serial(p: ParallelRecord, threads: int) -> str:
    for ref in p.serial:
        if ref.threads == threads:
            return units.seconds(ref.epoch_seconds)
    return "n/a"


def _peak(p: ParallelRecord) -> str:
    """The largest rank's peak, and what it added to its start (a forked rank starts with its
    parent's pages resident)."""
    top = max(p.ranks, key=lambda r: r.peak_memory_bytes or 0)
    if top.peak_memory_bytes is None:
        return "n/a"
    text = units.nbytes(top.peak_memory_bytes)
    if top.start_memory_bytes is not None:
        text += f" (+{units.nbytes(max(0, top.peak_memory_bytes - top.start_memory_bytes))})"
    return text


def parallel_tables(records: Sequence[CaseRecord]) -> list[Table]:
    """The table of multi-process cases (none when there are none)."""
    cases = _parallel(records)
    if not cases:
        return []
    rows = []
    for record, p in sorted(
        cases, key=lambda c: (c[0].dataset, c[0].method, c[1].strategy, c[1].world, c[0].seed)
    ):
        layout = f"{p.layers_per_rank} layers/rank" if p.layers_per_rank else "all layers"
        if p.microbatches > 1:
            layout += f", {p.microbatches} microbatches"
        match = {True: "yes", False: "NO", None: "n/a"}[p.weights_match_serial]
        rows.append(
            (
                record.dataset,
                f"{record.method}/{p.strategy}",
                f"{p.world} x {p.threads_per_rank}t ({p.backend})",
                layout,
                units.seconds(p.epoch_seconds),
                f"{p.rows_per_s:,.0f}",
                _serial(p, p.threads_per_rank),
                _serial(p, p.threads_per_rank * p.world),
                _ratio(p.speedup),
                "n/a" if p.efficiency is None else f"{100 * p.efficiency:.0f}%",
                _ratio(p.speedup_vs_same_threads),
                _idle_share(p),
                units.nbytes(max(r.bytes_sent_per_epoch for r in p.ranks)),
                _peak(p),
                match,
                f"{record.accuracy.test:.4f}",
            )
        )
    notes = (
        "speedup: the same recipe trained serially in one process with the rank's threads, over "
        "the world (epoch = training wall time over epochs, the pipeline's fill and drain in); "
        "vs same threads: the serial run given as many threads as the whole world",
        "idle: mean over ranks of the training window not busy (the measured bubble and waits; "
        f"busy basis: {cases[0][1].busy_basis})",
        "sent/epoch: the rank that sends most; peak memory: the largest rank's, and in brackets "
        "what it added to its start (host RSS counts the pages a forked rank shares with its "
        "parent)",
        "weights = serial: bit-identical to the serial run (FF layer pipelines only)",
    )
    return [
        Table(
            title="Across processes: speedup over serial training, bubble, traffic",
            columns=(
                "dataset",
                "method",
                "world",
                "layout",
                "epoch",
                "rows/s",
                "serial epoch",
                "serial, world's threads",
                "speedup",
                "efficiency",
                "vs same threads",
                "idle",
                "sent/epoch",
                "peak memory",
                "weights = serial",
                "test acc",
            ),
            rows=tuple(rows),
            notes=notes,
            left=4,
        )
    ]


def parallel_figures(records: Sequence[CaseRecord], caption: str) -> dict[str, tuple[str, bytes]]:
    """``parallel_speedup.png``: speedup over serial against ranks, one line per dataset,
    method and strategy (from the serial run at 1), beside the ideal; empty without parallel
    cases or matplotlib."""
    cases = _parallel(records)
    if not cases:
        return {}
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return {}
    series: dict[str, dict[int, list[float]]] = {}
    for record, p in cases:
        if p.speedup is not None:
            label = f"{record.dataset}: {record.method}/{p.strategy}"
            series.setdefault(label, {}).setdefault(p.world, []).append(p.speedup)
    if not series:
        return {}
    title = "Speedup over serial training against ranks"
    fig = Figure(figsize=(6.0, 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    worlds = sorted({w for by_world in series.values() for w in by_world} | {1})
    ax.plot(worlds, worlds, color="grey", linestyle=":", label="ideal (speedup = ranks)")
    for label, by_world in sorted(series.items()):
        by_world.setdefault(1, [1.0])  # the serial reference itself
        xs = sorted(by_world)
        ys = [sum(by_world[w]) / len(by_world[w]) for w in xs]
        ax.plot(xs, ys, marker="o", linestyle="-" if "ff" in label else "--", label=label)
    ax.set_xlabel("ranks")
    ax.set_ylabel("speedup over serial (same threads per process)")
    ax.set_xticks(worlds)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.text(0.5, -0.01, caption, ha="center", va="top", fontsize=8, wrap=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return {FIGURE: (title, buffer.getvalue())}

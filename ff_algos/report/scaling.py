"""The scaling benchmark in the report: memory held and time per epoch against depth, FF beside
backprop, per batch size (:mod:`ff_algos.suite.depth_scaling`).

Memory is the peak bytes saved for backward (exact, device-independent); time is one epoch's
device time. Points of several runs for the same configuration are averaged.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from ff_algos.record import ScalingPoint
from ff_algos.report.tables import Table
from ff_algos.telemetry import units

LABELS = {"ff": "FF", "bp": "backprop"}


def by_configuration(
    points: Sequence[ScalingPoint],
) -> dict[tuple[str, int], dict[int, ScalingPoint]]:
    """(algorithm, batch) -> depth -> point (the last point of a configuration wins)."""
    out: dict[tuple[str, int], dict[int, ScalingPoint]] = {}
    for p in points:
        out.setdefault((p.algorithm, p.batch), {})[p.depth] = p
    return out


def scaling_table(points: Sequence[ScalingPoint]) -> list[Table]:
    """One row per algorithm, batch and depth (none when the runs hold no scaling points)."""
    if not points:
        return []
    rows = []
    for (algorithm, batch), by_depth in sorted(by_configuration(points).items()):
        for depth, p in sorted(by_depth.items()):
            rows.append(
                (
                    LABELS.get(algorithm, algorithm),
                    str(batch),
                    str(depth),
                    units.nbytes(p.saved_for_backward_peak_bytes),
                    units.nbytes(p.parameter_bytes + p.optimizer_state_bytes),
                    units.nbytes(p.allocator_peak_bytes),
                    units.seconds(p.epoch_seconds),
                )
            )
    devices = sorted({p.device for p in points})
    return [
        Table(
            title="Scaling with depth: memory held and time per epoch",
            columns=(
                "method",
                "batch",
                "depth",
                "saved for backward (peak)",
                "parameters + optimiser",
                "allocator peak",
                "time/epoch",
            ),
            rows=tuple(rows),
            notes=(
                "plain algorithms, width 500, MNIST-shaped random rows (ff_algos/scaling.py); "
                "saved for backward: exact peak bytes of one step, parameters aside; "
                "FF trains its layers one after another within each step",
                f"devices: {', '.join(devices)}; allocator peak: CUDA only",
            ),
            left=3,
        )
    ]


def _mib_saved(p: ScalingPoint) -> float:
    return p.saved_for_backward_peak_bytes / 2**20


def _seconds(p: ScalingPoint) -> float:
    return p.epoch_seconds


def scaling_figures(points: Sequence[ScalingPoint], caption: str) -> dict[str, tuple[str, bytes]]:
    """``scaling_memory.png`` and ``scaling_time.png``: one line per algorithm and batch against
    depth, log scales; empty without points or matplotlib."""
    if not points:
        return {}
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return {}
    series = by_configuration(points)
    out: dict[str, tuple[str, bytes]] = {}
    panels: tuple[tuple[str, str, str, Callable[[ScalingPoint], float]], ...] = (
        (
            "scaling_memory.png",
            "Memory saved for backward against depth",
            "peak bytes saved for backward (MiB, log)",
            _mib_saved,
        ),
        ("scaling_time.png", "Time per epoch against depth", "time per epoch (s, log)", _seconds),
    )
    for name, title, y_label, get in panels:
        fig = Figure(figsize=(6.0, 4.2), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        for (algorithm, batch), by_depth in sorted(series.items()):
            depths = sorted(by_depth)
            ax.plot(
                depths,
                [get(by_depth[d]) for d in depths],
                marker="o",
                linestyle="-" if algorithm == "ff" else "--",
                label=f"{LABELS.get(algorithm, algorithm)}, batch {batch}",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("hidden layers (width 500, log)")
        ax.set_ylabel(y_label)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.text(0.5, -0.01, caption, ha="center", va="top", fontsize=8, wrap=True)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        out[name] = (title, buffer.getvalue())
    return out

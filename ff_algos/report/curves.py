"""Learning curves in the report: accuracy against training time and FLOPs, the budget each
method needs to reach reviewed accuracy targets, and every method's accuracy at the budget of the
cheapest one.

A group's curve is the mean over its seeds, point by point (the seeds share the schedule). Time is
training compute so far (evaluation excluded), FLOPs are model FLOPs so far, accuracy is on the
validation rows (:class:`ff_algos.record.Curve`). "To target" is the first measured point at or
above the target (no interpolation: the true crossing is at or before it).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ff_algos.report.cases import CaseGroup
from ff_algos.report.rows import row_label
from ff_algos.report.study import dataset_label
from ff_algos.report.tables import Table
from ff_algos.telemetry import units

if TYPE_CHECKING:
    from matplotlib.axes import Axes

NOT_REACHED = "not reached"

# Validation-accuracy targets per dataset, reviewed: the lowest is reached by every method's
# `matched` (about 1 TFLOP) budget on this suite's CPU runs (reports/cpu-2core-fair-matched), the
# next by FF's study recipe (study Table 1), the higher ones by the tuned methods and backprop.
TARGETS: Mapping[str, tuple[float, ...]] = {
    "mnist": (0.85, 0.90, 0.95, 0.97),
    "fashion_mnist": (0.70, 0.80, 0.85, 0.88),
    "cifar10": (0.40, 0.45, 0.50),
    "cifar100": (0.10, 0.15, 0.20),
    "svhn": (0.60, 0.70, 0.80),
}


@dataclass(frozen=True)
class MeanPoint:
    """One point of a group's curve, averaged over its seeds."""

    seconds: float
    model_flops: float
    energy_j: float | None
    val_accuracy: float


def mean_curve(group: CaseGroup) -> list[MeanPoint]:
    """The group's curve, point by point over the seeds that have one (empty when none does)."""
    curves = [c.record.curve.points for c in group.cases if c.record.curve is not None]
    if not curves:
        return []
    length = min(len(points) for points in curves)
    out = []
    for i in range(length):
        at = [points[i] for points in curves]
        energies = [p.energy_j for p in at]
        out.append(
            MeanPoint(
                seconds=sum(p.seconds for p in at) / len(at),
                model_flops=sum(p.model_flops for p in at) / len(at),
                energy_j=None
                if any(e is None for e in energies)
                else sum(e or 0.0 for e in energies) / len(at),
                val_accuracy=sum(p.val_accuracy for p in at) / len(at),
            )
        )
    return out


def curve_tables(groups: Sequence[CaseGroup]) -> list[Table]:
    """The time/FLOPs/energy-to-target table and the equal-budget table (none without curves)."""
    with_curves = [(g, mean_curve(g)) for g in groups]
    with_curves = [(g, c) for g, c in with_curves if c]
    if not with_curves:
        return []
    return [_to_target(with_curves, groups), _equal_budget(with_curves, groups)]


def _to_target(
    curves: Sequence[tuple[CaseGroup, list[MeanPoint]]], groups: Sequence[CaseGroup]
) -> Table:
    rows = []
    for g, curve in curves:
        for target in TARGETS.get(g.dataset, ()):
            hit = next((p for p in curve if p.val_accuracy >= target), None)
            cells = (
                (NOT_REACHED,) * 3
                if hit is None
                else (
                    units.seconds(hit.seconds),
                    units.si(hit.model_flops, "FLOP"),
                    units.si(hit.energy_j, "J"),
                )
            )
            rows.append((dataset_label(g.dataset), row_label(g, groups), f"{target:.2f}", *cells))
    return Table(
        title="Budget to reach a validation accuracy",
        columns=("dataset", "method", "target", "time", "model FLOPs", "energy"),
        rows=tuple(rows),
        notes=(
            "the first curve point at or above the target (the crossing is at or before it); "
            "time = training compute so far, evaluation excluded; mean curve over the seeds",
            f"'{NOT_REACHED}': the run ended below the target; targets are reviewed in "
            "ff_algos/report/curves.py",
        ),
        left=2,
    )


def _equal_budget(
    curves: Sequence[tuple[CaseGroup, list[MeanPoint]]], groups: Sequence[CaseGroup]
) -> Table:
    rows = []
    for dataset in dict.fromkeys(g.dataset for g, _ in curves):
        mine = [(g, c) for g, c in curves if g.dataset == dataset]
        budgets = {
            "time": min(c[-1].seconds for _, c in mine),
            "FLOPs": min(c[-1].model_flops for _, c in mine),
        }
        for g, curve in mine:
            cells = []
            for kind, get in (("time", _seconds), ("FLOPs", _flops)):
                within = [p for p in curve if get(p) <= budgets[kind] * (1 + 1e-9)]
                cells.append(units.accuracy(within[-1].val_accuracy) if within else units.NA)
            rows.append(
                (
                    dataset_label(dataset),
                    row_label(g, groups),
                    *cells,
                    units.accuracy(curve[-1].val_accuracy),
                )
            )
        rows.append(
            (
                dataset_label(dataset),
                "(budget)",
                units.seconds(budgets["time"]),
                units.si(budgets["FLOPs"], "FLOP"),
                "",
            )
        )
    return Table(
        title="Validation accuracy at the budget of the cheapest method",
        columns=("dataset", "method", "at equal time", "at equal FLOPs", "at the end"),
        rows=tuple(rows),
        notes=(
            "budget = the smallest total training time (or model FLOPs) of any method on the "
            "dataset; each method's last curve point within it ('n/a': none that early)",
        ),
        left=2,
    )


def _seconds(p: MeanPoint) -> float:
    return p.seconds


def _flops(p: MeanPoint) -> float:
    return p.model_flops


def curve_figures(groups: Sequence[CaseGroup], caption: str) -> dict[str, tuple[str, bytes]]:
    """``learning_curve_time.png`` and ``learning_curve_flops.png`` (one panel per dataset, one
    line per method, log x) as ``{name: (title, png)}``; empty without curves or matplotlib."""
    curves = [(g, mean_curve(g)) for g in groups]
    curves = [(g, c) for g, c in curves if c]
    if not curves:
        return {}
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return {}
    out: dict[str, tuple[str, bytes]] = {}
    for name, title, x_label, get in (
        (
            "learning_curve_time.png",
            "Validation accuracy against training time",
            "training compute so far (s, log)",
            _seconds,
        ),
        (
            "learning_curve_flops.png",
            "Validation accuracy against training FLOPs",
            "model FLOPs so far (log)",
            _flops,
        ),
    ):
        datasets = list(dict.fromkeys(g.dataset for g, _ in curves))
        fig = Figure(figsize=(5.0 * len(datasets), 4.0), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, len(datasets), squeeze=False)[0]
        for ax, dataset in zip(axes, datasets, strict=True):
            _panel(ax, [(g, c) for g, c in curves if g.dataset == dataset], groups, get)
            ax.set_title(dataset_label(dataset))
            ax.set_xlabel(x_label)
            ax.set_ylabel("validation accuracy")
        fig.suptitle(title)
        fig.text(0.5, -0.01, caption, ha="center", va="top", fontsize=8, wrap=True)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        out[name] = (title, buffer.getvalue())
    return out


def _panel(
    ax: Axes,
    curves: Sequence[tuple[CaseGroup, list[MeanPoint]]],
    groups: Sequence[CaseGroup],
    get: Callable[[MeanPoint], float],
) -> None:
    from matplotlib.ticker import NullFormatter

    for g, curve in curves:
        xs = [max(get(p), 1e-12) for p in curve]
        ys = [p.val_accuracy for p in curve]
        ax.plot(xs, ys, marker="o", markersize=3, label=row_label(g, groups))
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels overlap
    low = min(p.val_accuracy for _, c in curves for p in c)
    ax.set_ylim(max(0.0, math.floor(low * 20) / 20), 1.0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)

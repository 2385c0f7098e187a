"""PNG figures of a report, drawn with matplotlib's Agg canvas (no pyplot, no display).

matplotlib is an optional extra (``pip install 'ff-bench[plots]'``): it is imported only when
figures are drawn, and :func:`draw_figures` returns None when it is not installed, so tables and
Markdown still work without it. Every figure has a title, labelled axes with units, a legend and,
in its caption, the device(s) the numbers were measured on. Bars and points of groups run with
several seeds are their means, with error bars spanning the 95% t interval of the mean
(:mod:`ff_algos.report.spread`); the caption then says so.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ff_algos.report.cases import Case, CaseGroup
from ff_algos.report.metrics import metric, phase_total
from ff_algos.report.rows import datasets, row_label
from ff_algos.report.spread import INTERVAL, spread_of
from ff_algos.report.study import dataset_label, method_label, study_accuracy

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PLOTS_HINT = (
    "figures skipped: matplotlib is not installed; install plots with: "
    "pip install 'ff-bench[plots]'"
)

FIGURES = (
    "time_end_to_end.png",
    "time_ff_layers.png",
    "compute_per_epoch.png",
    "accuracy.png",
    "memory_energy.png",
)

_GIB = 2**30
ERROR_BARS = f"Error bars: {INTERVAL} over the seeds."


def draw_figures(groups: Sequence[CaseGroup], caption: str) -> dict[str, bytes] | None:
    """Every figure that applies to these groups, as PNG bytes by file name; None when matplotlib
    is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None

    def new(width: float, height: float, panels: int = 1) -> tuple[Figure, list[Axes]]:
        fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, panels, squeeze=False)[0]
        return fig, list(axes)

    drawers: list[tuple[str, Callable[[], Figure | None]]] = [
        ("time_end_to_end.png", lambda: _end_to_end(new, groups)),
        ("time_ff_layers.png", lambda: _ff_layers(new, groups)),
        ("compute_per_epoch.png", lambda: _per_epoch(new, groups)),
        ("accuracy.png", lambda: _accuracy(new, groups)),
        ("memory_energy.png", lambda: _memory_energy(new, groups)),
    ]
    if any(len(g.cases) > 1 for g in groups):
        caption = f"{caption} {ERROR_BARS}"
    out: dict[str, bytes] = {}
    for name, draw in drawers:
        fig = draw()
        if fig is None:
            continue
        fig.text(0.5, -0.01, caption, ha="center", va="top", fontsize=8, wrap=True)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        out[name] = buffer.getvalue()
    return out


NewFigure = Callable[..., "tuple[Figure, list[Axes]]"]


def series_labels(groups: Sequence[CaseGroup]) -> list[str]:
    """Row labels (methods, with their recipe when several ran) in order."""
    return list(dict.fromkeys(row_label(g, groups) for g in groups))


def find_group(groups: Sequence[CaseGroup], label: str, dataset: str) -> CaseGroup | None:
    for g in groups:
        if g.dataset == dataset and row_label(g, groups) == label:
            return g
    return None


def _grouped_bars(
    ax: Axes,
    categories: Sequence[str],
    series: dict[str, list[float | None]],
    fmt: Callable[[float], str],
    errors: dict[str, list[float | None]] | None = None,
) -> None:
    """Bars side by side per category; a missing value is marked "n/a" instead of a bar. A
    series with ``errors`` (half-widths; None where there is no spread) gets error bars."""
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(categories))]
        heights = [0.0 if v is None else v for v in values]
        study = name.startswith("study")  # the study's values: hatched, so they read as reference
        half = (errors or {}).get(name, [])
        bars = ax.bar(
            xs,
            heights,
            width,
            label=name,
            hatch="//" if study else None,
            alpha=0.55 if study else 1.0,
            edgecolor="black" if study else None,
            linewidth=0.4,
            yerr=[math.nan if h is None else h for h in half]
            if any(h is not None for h in half)
            else None,
            capsize=3,
        )
        ax.bar_label(bars, labels=["n/a" if v is None else fmt(v) for v in values], fontsize=7)
    ax.set_xticks(range(len(categories)), categories)


def _end_to_end(new: NewFigure, groups: Sequence[CaseGroup]) -> Figure:
    fig, (ax,) = new(7.0, 4.2)
    names = datasets(groups)
    get = metric("seconds.end_to_end").get
    series, errors = {}, {}
    for label in series_labels(groups):
        rows = [find_group(groups, label, d) for d in names]
        series[label] = [group_mean(g, get) for g in rows]
        errors[label] = [group_half(g, get) for g in rows]
    _grouped_bars(ax, [dataset_label(d) for d in names], series, lambda v: f"{v:.3g}", errors)
    ax.set_title("End-to-end training run time per dataset")
    ax.set_xlabel("dataset")
    ax.set_ylabel("time (s)")
    ax.legend(title="method")
    return fig


def _ff_layers(new: NewFigure, groups: Sequence[CaseGroup]) -> Figure | None:
    # FF's own figure: only its phases are layers
    ff = [g for g in groups if g.method == "ff"]
    if not ff:
        return None
    fig, (ax,) = new(7.0, 4.2)
    layers = list(dict.fromkeys(p for g in ff for p in g.phases()))
    labels = [f"{dataset_label(g.dataset)}\n{row_label(g, groups)}" for g in ff]
    bottom = [0.0] * len(ff)
    for layer in layers:
        heights = [group_mean(g, phase_total(layer)) or 0.0 for g in ff]
        ax.bar(range(len(ff)), heights, 0.6, bottom=bottom, label=layer)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    # one error bar per stack: the spread over seeds of the layers' total
    half = [group_half(g, layers_total(layers)) for g in ff]
    if any(h is not None for h in half):
        ax.errorbar(
            range(len(ff)),
            bottom,
            yerr=[math.nan if h is None else h for h in half],
            fmt="none",
            ecolor="black",
            capsize=3,
        )
    ax.set_xticks(range(len(ff)), labels)
    ax.set_title("FF compute time per layer")
    ax.set_xlabel("dataset")
    ax.set_ylabel("compute time (s)")
    ax.legend(title="layer")
    return fig


def _per_epoch(new: NewFigure, groups: Sequence[CaseGroup]) -> Figure:
    from matplotlib.ticker import MaxNLocator  # matplotlib is loaded by now (see draw_figures)

    fig, axes = new(11.0, 4.2, 2)
    # one panel for each of the pair the study compares, FF and backprop; other methods are in
    # the tables and the other figures
    for ax, method in zip(axes, ("ff", "bp"), strict=True):
        title = method_label(method)
        mine = [g for g in groups if g.method == method]
        styles = ("-", "--", ":", "-.")
        for index, g in enumerate(mine):
            color = f"C{index % 10}"
            for p_index, phase in enumerate(g.phases()):
                seconds = g.phase_seconds(phase)
                name = f"{dataset_label(g.dataset)}"
                if method == "ff":
                    name += f" {phase}"
                if len({x.recipe_key for x in mine}) > 1:
                    name += f" ({g.recipe_name})"
                ax.errorbar(
                    range(1, len(seconds) + 1),
                    seconds,
                    yerr=epoch_halves(g, phase, len(seconds)),
                    fmt=styles[p_index % len(styles)],
                    color=color,
                    label=name,
                    linewidth=1.2,
                    marker="o" if len(seconds) <= 30 else None,
                    markersize=3,
                    capsize=2,
                )
        ax.set_title(f"{title}: compute time per epoch")
        ax.set_xlabel("epoch" + (" (of each layer)" if method == "ff" else ""))
        ax.set_ylabel("compute time per epoch (s)")
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if mine:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, f"no {title} cases", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("Compute time per epoch")
    return fig


def _accuracy(new: NewFigure, groups: Sequence[CaseGroup]) -> Figure:
    fig, axes = new(11.0, 4.2, 2)
    names = datasets(groups)
    train_get = metric("accuracy.train").get
    test_get = metric("accuracy.test").get
    # the study has values for FF and backprop only: one panel each, beside the study's
    for ax, method in zip(axes, ("ff", "bp"), strict=True):
        title = method_label(method)
        mine = [g for g in groups if g.method == method]
        series: dict[str, list[float | None]] = {}
        errors: dict[str, list[float | None]] = {}
        for label in dict.fromkeys(row_label(g, groups) for g in mine):
            rows = [find_group(groups, label, d) for d in names]
            for part, get in (("train", train_get), ("test", test_get)):
                series[f"{label} {part}"] = [group_mean(g, get) for g in rows]
                errors[f"{label} {part}"] = [group_half(g, get) for g in rows]
        studies = [study_accuracy(method, d) for d in names]
        series["study train"] = [None if s is None else s.train for s in studies]
        series["study test"] = [None if s is None else s.test for s in studies]
        _grouped_bars(ax, [dataset_label(d) for d in names], series, lambda v: f"{v:.2f}", errors)
        ax.set_title(f"{title}: accuracy, measured and the study's")
        ax.set_xlabel("dataset")
        ax.set_ylabel("accuracy (fraction correct)")
        ax.set_ylim(0, 1.25)
        ax.legend(fontsize=7, ncols=4, loc="upper center")
    fig.suptitle("Accuracy against the study")
    return fig


def _memory_energy(new: NewFigure, groups: Sequence[CaseGroup]) -> Figure:
    fig, (mem, energy) = new(11.0, 4.2, 2)
    labels = [f"{dataset_label(g.dataset)}\n{row_label(g, groups)}" for g in groups]
    memory_keys = {
        "host RSS peak": "memory.host_peak_rss_bytes",
        "torch peak (train)": "memory.torch_peak_bytes.train",
        "NVML used peak": "memory.nvml_used_peak_bytes",
    }
    series: dict[str, list[float | None]] = {}
    errors: dict[str, list[float | None]] = {}
    for name, key in memory_keys.items():
        values = [group_mean(g, metric(key).get) for g in groups]
        series[name] = [None if v is None else v / _GIB for v in values]
        halves = [group_half(g, metric(key).get) for g in groups]
        errors[name] = [None if h is None else h / _GIB for h in halves]
    _grouped_bars(mem, labels, series, lambda v: f"{v:.2f}", errors)
    mem.set_title("Memory peaks per case")
    mem.set_xlabel("case")
    mem.set_ylabel("memory (GiB)")
    mem.legend(fontsize=7)
    mem.set_ylim(bottom=0)
    joules = {"energy": [group_mean(g, metric("energy.joules").get) for g in groups]}
    joules_half = {"energy": [group_half(g, metric("energy.joules").get) for g in groups]}
    energy.set_title("Training-stage energy per case")
    energy.set_xlabel("case")
    energy.set_ylabel("energy (J)")
    if all(v is None for v in joules["energy"]):
        energy.set_xticks(range(len(labels)), labels)
        energy.set_xlim(-0.5, len(labels) - 0.5)
        energy.set_ylim(0, 1)
        energy.text(
            0.5,
            0.5,
            "energy not measured on this device (n/a)",
            ha="center",
            va="center",
            transform=energy.transAxes,
        )
    else:
        _grouped_bars(energy, labels, joules, lambda v: f"{v:.3g}", joules_half)
        energy.set_ylim(bottom=0)
        energy.legend(fontsize=7)
    fig.suptitle("Memory and energy")
    return fig


def group_mean(group: CaseGroup | None, get: Callable[[Case], float | None]) -> float | None:
    """A group's mean of one metric; None for a missing group or value."""
    return None if group is None else group.mean(get)


def group_half(group: CaseGroup | None, get: Callable[[Case], float | None]) -> float | None:
    """Half-width of a group's interval for one metric; None without a group or a spread."""
    spread = None if group is None else group.spread(get)
    return None if spread is None else spread.half_width


def layers_total(layers: Sequence[str]) -> Callable[[Case], float | None]:
    """A getter for a case's compute seconds summed over FF's layers (missing ones count 0)."""
    return lambda case: sum(phase_total(layer)(case) or 0.0 for layer in layers)


def epoch_halves(group: CaseGroup, phase: str, epochs: int) -> list[float] | None:
    """Per-epoch half-widths of one phase's seconds over the seeds; None for a single seed."""
    series = [c.phase_seconds(phase) for c in group.cases]
    spreads = [spread_of(s[i] for s in series) for i in range(epochs)]
    if all(s is None for s in spreads):
        return None
    return [math.nan if s is None else s.half_width for s in spreads]

"""The report's figures as interactive plotly.js figures (plain JSON-ready dicts), for
``report.html``.

Each figure is the interactive twin of a PNG figure of the Markdown report (same name, without
``.png``) and is built from the same numbers: the groups' means and the half-widths of their 95%
t intervals (:mod:`ff_algos.report.figures`), the mean learning curves
(:mod:`ff_algos.report.curves`), the recipe grids (:mod:`ff_algos.report.heatmap`) and the
scaling points (:mod:`ff_algos.report.scaling`). Hovering shows each value with its unit, in the
same text as the tables (``mean ± half-width (n=k)``); error bars span the interval over the
seeds; the axes that are logarithmic in the PNG are logarithmic here. Every trace draws a marker
per point, except per-epoch lines of more than 60 epochs, drawn as lines with every vertex kept, so
the number of points a figure holds can be counted in the browser (:attr:`PlotFigure.points`).
Nothing here imports plotly: the page loads plotly.js and hands it these dicts.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ff_algos.record import ScalingPoint
from ff_algos.report.cases import Case, CaseGroup
from ff_algos.report.compare import SLOWDOWN, Side
from ff_algos.report.curves import MeanPoint, mean_curve
from ff_algos.report.figures import (
    epoch_halves,
    find_group,
    group_half,
    group_mean,
    layers_total,
    series_labels,
)
from ff_algos.report.heatmap import Grid, GridCase, find_grids, value_label
from ff_algos.report.metrics import metric, phase_total
from ff_algos.report.rows import datasets, row_label, with_spread
from ff_algos.report.scaling import LABELS, by_configuration
from ff_algos.report.study import dataset_label, method_label, study_accuracy
from ff_algos.telemetry import units

Json = dict[str, Any]
_GIB = 2**30
_HOVER = "%{customdata}<extra>%{fullData.name}</extra>"
_MARKERS_UP_TO = 60  # points of a line drawn with markers; longer ones as plain lines


@dataclass(frozen=True)
class PlotFigure:
    """One interactive figure: plotly.js traces and layout, and how many points it draws."""

    name: str  # the PNG's name without ".png": "accuracy", "learning_curve_time"
    title: str
    data: list[Json]
    layout: Json
    notes: tuple[str, ...] = field(default=())

    @property
    def points(self) -> int:
        """Data points drawn: non-missing bar heights, markers, heatmap cells."""
        return sum(trace_points(t) for t in self.data)


def trace_points(trace: Json) -> int:
    """Non-missing values of one trace (``z`` cells of a heatmap, ``y`` values otherwise)."""
    if trace.get("type") == "heatmap":
        return sum(v is not None for row in trace["z"] for v in row)
    return sum(v is not None for v in trace.get("y", ()))


def plot_figures(
    groups: Sequence[CaseGroup],
    grid_cases: Sequence[GridCase],
    scaling: Sequence[ScalingPoint],
) -> list[PlotFigure]:
    """Every figure that applies, in the Markdown report's order."""
    out: list[PlotFigure | None] = []
    if groups:
        out.extend(
            (
                _end_to_end(groups),
                _ff_layers(groups),
                _per_epoch(groups),
                _accuracy(groups),
                _memory_energy(groups),
            )
        )
    out.extend(_heatmap(g) for g in find_grids(grid_cases))
    out.extend(_curves(groups))
    out.extend(_scaling(scaling))
    return [_with_margins(f) for f in out if f is not None]


def _with_margins(figure: PlotFigure) -> PlotFigure:
    """Axes that grow their margins to fit long tick labels (cases named by their recipe)."""
    for key, axis in figure.layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            axis.setdefault("automargin", True)
    return figure


def _bar(
    name: str,
    categories: Sequence[str],
    values: Sequence[float | None],
    texts: Sequence[str],
    halves: Sequence[float | None] | None = None,
    **extra: Any,
) -> Json:
    trace: Json = {
        "type": "bar",
        "name": name,
        "x": list(categories),
        "y": [_finite(v) for v in values],
        "customdata": list(texts),
        "hovertemplate": _HOVER,
        **extra,
    }
    if halves is not None and any(h is not None for h in halves):
        trace["error_y"] = _errors(halves)
    return trace


def _line(
    name: str,
    xs: Sequence[float | str],
    ys: Sequence[float | None],
    texts: Sequence[str],
    halves: Sequence[float | None] | None = None,
    **extra: Any,
) -> Json:
    trace: Json = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": list(xs),
        "y": [_finite(v) for v in ys],
        "customdata": list(texts),
        "hovertemplate": _HOVER,
        "marker": {"size": 6},
        **extra,
    }
    if halves is not None and any(h is not None for h in halves):
        trace["error_y"] = _errors(halves)
    return trace


def _errors(halves: Sequence[float | None]) -> Json:
    return {"type": "data", "array": [_finite(h) for h in halves], "visible": True}


def _finite(value: float | None) -> float | None:
    """A value as the page stores it: 6 significant figures (the hover text and tables show 3),
    None for a missing or non-finite one."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def _cell(
    group: CaseGroup | None,
    get: Callable[[Case], float | None],
    show: Callable[[float | None], str],
    key: str | None = None,
) -> str:
    """A group's value as the tables print it: ``mean ± half-width (n=k)``; ``n/a`` with the
    recorded reason (of metric ``key``) when it was not measured; ``—`` without a group."""
    if group is None:
        return units.NOT_APPLICABLE
    text = with_spread(show, group.mean(get), group.spread(get))
    if group.mean(get) is None and key is not None:
        reasons = sorted({r for c in group.cases if (r := c.reason(key))})
        if reasons:
            text += f": {'; '.join(reasons)}"
    return text


def _layout(title: str, **extra: Any) -> Json:
    return {
        "title": {"text": title},
        "hovermode": "closest",
        "legend": {"title": {"text": "click to hide or show"}},
        "margin": {"t": 70, "b": 60},
        "height": 440,
        **extra,
    }


def _panels(count: int, gap: float = 0.08) -> list[tuple[float, float]]:
    width = (1 - gap * (count - 1)) / count
    return [(i * (width + gap), i * (width + gap) + width) for i in range(count)]


def _axis_names(index: int) -> tuple[str, str, str, str]:
    """Layout keys and trace references of panel ``index``: xaxis, yaxis, x, y."""
    suffix = "" if index == 0 else str(index + 1)
    return f"xaxis{suffix}", f"yaxis{suffix}", f"x{suffix}", f"y{suffix}"


def _end_to_end(groups: Sequence[CaseGroup]) -> PlotFigure:
    m = metric("seconds.end_to_end")
    names = datasets(groups)
    categories = [dataset_label(d) for d in names]
    data = []
    for label in series_labels(groups):
        rows = [find_group(groups, label, d) for d in names]
        data.append(
            _bar(
                label,
                categories,
                [group_mean(g, m.get) for g in rows],
                [_cell(g, m.get, m.show, m.key) for g in rows],
                [group_half(g, m.get) for g in rows],
            )
        )
    layout = _layout(
        "End-to-end training run time per dataset",
        barmode="group",
        xaxis={"title": {"text": "dataset"}},
        yaxis={"title": {"text": "time (s)"}, "rangemode": "tozero"},
    )
    return PlotFigure(
        "time_end_to_end", "End-to-end time per dataset, FF and backprop", data, layout
    )


def _ff_layers(groups: Sequence[CaseGroup]) -> PlotFigure | None:
    ff = [g for g in groups if g.method == "ff"]
    if not ff:
        return None
    layers = list(dict.fromkeys(p for g in ff for p in g.phases()))
    categories = [f"{dataset_label(g.dataset)}<br>{row_label(g, groups)}" for g in ff]
    data = []
    for layer in layers:
        get = phase_total(layer)
        data.append(
            _bar(
                layer,
                categories,
                [group_mean(g, get) for g in ff],
                [_cell(g, get, units.seconds) for g in ff],
            )
        )
    total = layers_total(layers)
    data.append(
        _line(
            "all layers",
            categories,
            [group_mean(g, total) for g in ff],
            [_cell(g, total, units.seconds) for g in ff],
            [group_half(g, total) for g in ff],
            mode="markers",
            marker={"size": 8, "symbol": "line-ew-open", "color": "black"},
        )
    )
    layout = _layout(
        "FF compute time per layer",
        barmode="stack",
        xaxis={"title": {"text": "dataset"}},
        yaxis={"title": {"text": "compute time (s)"}, "rangemode": "tozero"},
    )
    return PlotFigure("time_ff_layers", "FF compute time per layer", data, layout)


def _per_epoch(groups: Sequence[CaseGroup]) -> PlotFigure:
    data: list[Json] = []
    layout = _layout("Compute time per epoch", height=460)
    for index, (method, (low, high)) in enumerate(zip(("ff", "bp"), _panels(2), strict=True)):
        x_key, y_key, x_ref, y_ref = _axis_names(index)
        mine = [g for g in groups if g.method == method]
        for g in mine:
            for phase in g.phases():
                seconds = g.phase_seconds(phase)
                name = f"{row_label(g, groups)}: {dataset_label(g.dataset)}"
                if method == "ff":
                    name += f" {phase}"
                halves = epoch_halves(g, phase, len(seconds))
                trace = _line(
                    name,
                    list(range(1, len(seconds) + 1)),
                    seconds,
                    [],
                    None if halves is None else list(halves),
                    xaxis=x_ref,
                    yaxis=y_ref,
                )
                # one epoch's text per point would outweigh the page (hundreds of epochs per
                # layer): plotly.js prints the value, in seconds, from the numbers themselves;
                # long series are drawn as lines without markers (every vertex kept), as the PNG
                if len(seconds) > _MARKERS_UP_TO:
                    trace["mode"] = "lines"
                    trace["line"] = {"simplify": False}
                spread = ""
                if halves is None:
                    del trace["customdata"]
                else:
                    trace["customdata"] = trace["error_y"]["array"]
                    spread = " ± %{customdata:.3g} s"
                trace["hovertemplate"] = (
                    f"epoch %{{x}}: %{{y:.3g}} s{spread}<extra>%{{fullData.name}}</extra>"
                )
                data.append(trace)
        layout[x_key] = {
            "domain": [low, high],
            "anchor": y_ref,
            "title": {"text": "epoch" + (" (of each layer)" if method == "ff" else "")},
        }
        layout[y_key] = {
            "anchor": x_ref,
            "title": {"text": f"{method_label(method)}: compute time per epoch (s)"},
            "rangemode": "tozero",
        }
    return PlotFigure(
        "compute_per_epoch", "Compute time per epoch (FF and backprop panels)", data, layout
    )


def _accuracy(groups: Sequence[CaseGroup]) -> PlotFigure:
    names = datasets(groups)
    categories = [dataset_label(d) for d in names]
    data: list[Json] = []
    layout = _layout("Accuracy against the study", barmode="group", height=460)
    for index, (method, (low, high)) in enumerate(zip(("ff", "bp"), _panels(2), strict=True)):
        x_key, y_key, x_ref, y_ref = _axis_names(index)
        title = method_label(method)
        mine = [g for g in groups if g.method == method]
        for label in dict.fromkeys(row_label(g, groups) for g in mine):
            rows = [find_group(groups, label, d) for d in names]
            for part in ("train", "test"):
                m = metric(f"accuracy.{part}")
                data.append(
                    _bar(
                        f"{label} {part}",
                        categories,
                        [group_mean(g, m.get) for g in rows],
                        [_cell(g, m.get, units.accuracy, m.key) for g in rows],
                        [group_half(g, m.get) for g in rows],
                        xaxis=x_ref,
                        yaxis=y_ref,
                        offsetgroup=f"{label} {part}",
                    )
                )
        studies = [study_accuracy(method, d) for d in names]
        for part in ("train", "test"):
            values = [None if s is None else getattr(s, part) for s in studies]
            data.append(
                _bar(
                    f"study {title} {part}",
                    categories,
                    values,
                    [f"study: {units.accuracy(v)}" for v in values],
                    xaxis=x_ref,
                    yaxis=y_ref,
                    offsetgroup=f"study {part}",
                    opacity=0.55,
                    marker={"pattern": {"shape": "/"}},
                )
            )
        layout[x_key] = {"domain": [low, high], "anchor": y_ref, "title": {"text": "dataset"}}
        layout[y_key] = {
            "anchor": x_ref,
            "range": [0, 1.05],
            "title": {"text": f"{title}: accuracy (fraction correct)"},
        }
    return PlotFigure("accuracy", "Accuracy against the study's values", data, layout)


_MEMORY = {
    "host RSS peak": "memory.host_peak_rss_bytes",
    "torch peak (train)": "memory.torch_peak_bytes.train",
    "NVML used peak": "memory.nvml_used_peak_bytes",
}


def _memory_energy(groups: Sequence[CaseGroup]) -> PlotFigure:
    categories = [f"{dataset_label(g.dataset)}<br>{row_label(g, groups)}" for g in groups]
    data: list[Json] = []
    for name, key in _MEMORY.items():
        m = metric(key)
        means = [group_mean(g, m.get) for g in groups]
        halves = [group_half(g, m.get) for g in groups]
        data.append(
            _bar(
                name,
                categories,
                [None if v is None else v / _GIB for v in means],
                [_cell(g, m.get, units.nbytes, key) for g in groups],
                [None if h is None else h / _GIB for h in halves],
            )
        )
    energy = metric("energy.joules")
    data.append(
        _bar(
            "training-stage energy",
            categories,
            [group_mean(g, energy.get) for g in groups],
            [_cell(g, energy.get, energy.show, "energy.joules") for g in groups],
            [group_half(g, energy.get) for g in groups],
            xaxis="x2",
            yaxis="y2",
        )
    )
    (low1, high1), (low2, high2) = _panels(2)
    measured = any(v is not None for v in data[-1]["y"])
    layout = _layout(
        "Memory and energy",
        barmode="group",
        height=480,
        xaxis={"domain": [low1, high1], "anchor": "y", "title": {"text": "case"}},
        yaxis={"anchor": "x", "title": {"text": "memory (GiB)"}, "rangemode": "tozero"},
        xaxis2={"domain": [low2, high2], "anchor": "y2", "title": {"text": "case"}},
        yaxis2={"anchor": "x2", "title": {"text": "energy (J)"}, "rangemode": "tozero"},
    )
    if not measured:
        layout["yaxis2"] |= {"range": [0, 1], "showticklabels": False}
        layout["annotations"] = [
            {
                "text": "energy not measured on this device (n/a)",
                "xref": "x2 domain",
                "yref": "y2 domain",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
            }
        ]
    return PlotFigure("memory_energy", "Memory peaks and energy per case", data, layout)


def _heatmap(grid: Grid) -> PlotFigure:
    z: list[list[float | None]] = []
    texts: list[list[str]] = []
    for y in grid.y_values:
        z_row: list[float | None] = []
        t_row: list[str] = []
        for x in grid.x_values:
            values = grid.accuracies(x, y)
            mean = statistics.fmean(values) if values else None
            z_row.append(mean)
            spread = f" ± {statistics.stdev(values):.3f} (sd)" if len(values) > 1 else ""
            t_row.append(f"{mean:.3f}{spread}, n={len(values)}" if mean is not None else units.NA)
        z.append(z_row)
        texts.append(t_row)
    trace: Json = {
        "type": "heatmap",
        "name": "test accuracy",
        "x": [value_label(v) for v in grid.x_values],
        "y": [value_label(v) for v in grid.y_values],
        "z": z,
        "text": texts,
        "texttemplate": "%{text}",
        "customdata": texts,
        "hovertemplate": f"{grid.x_field}=%{{x}}, {grid.y_field}=%{{y}}<br>"
        "test accuracy %{customdata}<extra></extra>",
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": "test accuracy"}},
    }
    layout = _layout(
        grid.title,
        xaxis={"title": {"text": grid.x_field}, "type": "category"},
        yaxis={"title": {"text": grid.y_field}, "type": "category"},
    )
    return PlotFigure(grid.file_name.removesuffix(".png"), grid.title, [trace], layout)


_CURVES: tuple[tuple[str, str, str, Callable[[MeanPoint], float | None], str], ...] = (
    (
        "learning_curve_time",
        "Validation accuracy against training time",
        "training compute so far (s, log)",
        lambda p: p.seconds,
        "s",
    ),
    (
        "learning_curve_flops",
        "Validation accuracy against training FLOPs",
        "model FLOPs so far (log)",
        lambda p: p.model_flops,
        "FLOP",
    ),
    (
        "learning_curve_energy",
        "Validation accuracy against training energy",
        "training energy so far (J, log)",
        lambda p: p.energy_j,
        "J",
    ),
)


def _curves(groups: Sequence[CaseGroup]) -> list[PlotFigure]:
    curves = [(g, c) for g in groups if (c := mean_curve(g))]
    if not curves:
        return []
    names = list(dict.fromkeys(g.dataset for g, _ in curves))
    out = []
    for name, title, x_label, get, unit in _CURVES:
        if all(get(p) is None for _, c in curves for p in c):
            continue  # energy: not measured on this device
        data: list[Json] = []
        layout = _layout(title, height=460)
        for index, (dataset, (low, high)) in enumerate(
            zip(names, _panels(len(names)), strict=True)
        ):
            x_key, y_key, x_ref, y_ref = _axis_names(index)
            for g, curve in curves:
                if g.dataset != dataset:
                    continue
                shown = [p for p in curve if get(p) is not None]
                xs = [max(float(get(p) or 0.0), 1e-12) for p in shown]
                texts = [
                    f"{units.si(get(p), unit)}: validation accuracy "
                    f"{units.accuracy(p.val_accuracy)}"
                    for p in shown
                ]
                data.append(
                    _line(
                        f"{dataset_label(dataset)}: {row_label(g, groups)}",
                        xs,
                        [p.val_accuracy for p in shown],
                        texts,
                        xaxis=x_ref,
                        yaxis=y_ref,
                    )
                )
            layout[x_key] = {
                "domain": [low, high],
                "anchor": y_ref,
                "type": "log",
                "title": {"text": f"{dataset_label(dataset)}: {x_label}"},
            }
            layout[y_key] = {"anchor": x_ref, "title": {"text": "validation accuracy"}}
        out.append(PlotFigure(name, title, data, layout))
    return out


def _scaling(points: Sequence[ScalingPoint]) -> list[PlotFigure]:
    if not points:
        return []
    series = sorted(by_configuration(points).items())
    panels: tuple[tuple[str, str, str, Callable[[ScalingPoint], float], str], ...] = (
        (
            "scaling_memory",
            "Memory saved for backward against depth",
            "peak bytes saved for backward (MiB, log)",
            lambda p: p.saved_for_backward_peak_bytes / 2**20,
            "MiB",
        ),
        (
            "scaling_time",
            "Time per epoch against depth",
            "time per epoch (s, log)",
            lambda p: p.epoch_seconds,
            "s",
        ),
    )
    out = []
    for name, title, y_label, get, unit in panels:
        data = []
        for (algorithm, batch), by_depth in series:
            depths = sorted(by_depth)
            texts = [
                f"depth {d}: "
                + (
                    units.nbytes(by_depth[d].saved_for_backward_peak_bytes)
                    if unit == "MiB"
                    else units.seconds(by_depth[d].epoch_seconds)
                )
                for d in depths
            ]
            data.append(
                _line(
                    f"{LABELS.get(algorithm, algorithm)}, batch {batch}",
                    depths,
                    [get(by_depth[d]) for d in depths],
                    texts,
                    line={"dash": "solid" if algorithm == "ff" else "dash"},
                )
            )
        depths = sorted({p.depth for p in points})
        layout = _layout(
            title,
            xaxis={
                "type": "log",
                "tickvals": depths,
                "ticktext": [str(d) for d in depths],
                "title": {"text": "hidden layers (width 500, log)"},
            },
            yaxis={"type": "log", "title": {"text": y_label}},
        )
        out.append(PlotFigure(name, title, data, layout))
    return out


def compare_figures(
    pairs: Sequence[tuple[str, Sequence[Case], Sequence[Case]]],
    slowdown: float,
    accuracy_tol: float,
    suffix: str = "",
) -> list[PlotFigure]:
    """A comparison's figures: test accuracy of A and B per case (error bars over the seeds),
    and the time ratios B/A per case beside the slowdown threshold."""
    if not pairs:
        return []
    labels = [label for label, _, _ in pairs]
    data = []
    test = metric("accuracy.test")
    for side in ("A", "B"):
        sides = [Side.of(test, a if side == "A" else b) for _, a, b in pairs]
        data.append(
            _bar(
                side,
                labels,
                [s.mean for s in sides],
                [f"{side}: {with_spread(units.accuracy, s.mean, s.spread)}" for s in sides],
                [None if s.spread is None else s.spread.half_width for s in sides],
            )
        )
    accuracy = PlotFigure(
        f"compare_accuracy{suffix}",
        "Test accuracy per case, A and B",
        data,
        _layout(
            "Test accuracy per case, A and B",
            barmode="group",
            xaxis={"title": {"text": "case"}},
            yaxis={"title": {"text": "test accuracy (fraction correct)"}},
        ),
        notes=(f"a drop of more than {accuracy_tol:g} is flagged",),
    )
    ratios = []
    for key in SLOWDOWN:
        m = metric(key)
        values = [units.safe_ratio(Side.of(m, b).mean, Side.of(m, a).mean) for _, a, b in pairs]
        ratios.append(
            _bar(
                f"{m.label} B/A",
                labels,
                values,
                [f"{m.label}: {units.ratio(v)}" for v in values],
            )
        )
    time = PlotFigure(
        f"compare_time{suffix}",
        "Time ratio B/A per case",
        ratios,
        _layout(
            "Time ratio B/A per case (above 1: B is slower)",
            barmode="group",
            xaxis={"title": {"text": "case"}},
            yaxis={"title": {"text": "time ratio B/A"}, "rangemode": "tozero"},
            shapes=[
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": slowdown,
                    "y1": slowdown,
                    "line": {"dash": "dash", "color": "#b00020"},
                }
            ],
        ),
        notes=(f"dashed: the slowdown threshold {slowdown:g}×; above it a time is flagged",),
    )
    return [_with_margins(accuracy), _with_margins(time)]

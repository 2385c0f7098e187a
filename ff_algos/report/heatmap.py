"""A heatmap of test accuracy over a two-field recipe grid (``--grid a=... --grid b=...``).

A run holds a grid when, among the cases of one dataset and method, exactly two recipe fields take
more than one value (the seed aside). Each cell is the mean test accuracy of its cases (the seeds),
printed in the cell with the number of seeds and their spread. Inputs are plain values (recipe
dicts and accuracies), so the report can feed it from any record type.
"""

from __future__ import annotations

import io
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_IGNORED = ("seed", "name")  # the seed varies within a cell; the name is the recipe's label


@dataclass(frozen=True)
class GridCase:
    """One case, as the heatmap needs it."""

    dataset: str
    method: str
    recipe: Mapping[str, Any]
    test_accuracy: float


@dataclass(frozen=True)
class Grid:
    """Test accuracies of one dataset and method over two recipe fields."""

    dataset: str
    method: str
    x_field: str
    y_field: str
    x_values: tuple[Any, ...]
    y_values: tuple[Any, ...]
    cells: Mapping[tuple[str, str], tuple[float, ...]]  # (x, y) keys as JSON text

    def accuracies(self, x: Any, y: Any) -> tuple[float, ...]:
        """The cases' test accuracies at ``x`` and ``y`` (one per seed)."""
        return self.cells.get((_key(x), _key(y)), ())

    @property
    def file_name(self) -> str:
        """``grid_mnist_ff_threshold_lr.png``."""
        return f"grid_{self.dataset}_{self.method}_{self.x_field}_{self.y_field}.png"

    @property
    def title(self) -> str:
        """The figure's heading."""
        return f"Test accuracy over {self.x_field} x {self.y_field}: {self.dataset}, {self.method}"


def find_grids(cases: Sequence[GridCase]) -> list[Grid]:
    """Every dataset-and-method group of ``cases`` whose recipes vary in exactly two fields."""
    groups: dict[tuple[str, str], list[GridCase]] = {}
    for case in cases:
        groups.setdefault((case.dataset, case.method), []).append(case)
    grids = []
    for (dataset, method), members in groups.items():
        fields = [f for f in members[0].recipe if f not in _IGNORED]
        counts = {f: len({_key(c.recipe.get(f)) for c in members}) for f in fields}
        varying = sorted((f for f in fields if counts[f] > 1), key=lambda f: -counts[f])
        if len(varying) != 2:  # x: the field with more values (ties: recipe order)
            continue
        x_field, y_field = varying
        cells: dict[tuple[str, str], list[float]] = {}
        for c in members:
            key = (_key(c.recipe.get(x_field)), _key(c.recipe.get(y_field)))
            cells.setdefault(key, []).append(c.test_accuracy)
        grids.append(
            Grid(
                dataset,
                method,
                x_field,
                y_field,
                _sorted(
                    {c.recipe.get(x_field) for c in members if _hashable(c, x_field)},
                    members,
                    x_field,
                ),
                _sorted(
                    {c.recipe.get(y_field) for c in members if _hashable(c, y_field)},
                    members,
                    y_field,
                ),
                {k: tuple(v) for k, v in cells.items()},
            )
        )
    return grids


def draw_heatmap(grid: Grid, caption: str) -> bytes | None:
    """The grid as a PNG heatmap (x across, y down); None when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    means = [[_mean(grid.accuracies(x, y)) for x in grid.x_values] for y in grid.y_values]
    fig = Figure(figsize=(1.6 + 1.3 * len(grid.x_values), 1.4 + 0.8 * len(grid.y_values)), dpi=110,
                 layout="constrained")  # fmt: skip
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    shown = [[m if m is not None else float("nan") for m in row] for row in means]
    image = ax.imshow(shown, cmap="viridis", aspect="auto", origin="lower")
    for i, y in enumerate(grid.y_values):
        for j, x in enumerate(grid.x_values):
            values = grid.accuracies(x, y)
            if not values:
                continue
            spread = f"\n±{statistics.stdev(values):.3f}" if len(values) > 1 else ""
            text = f"{statistics.fmean(values):.3f}{spread}\nn={len(values)}"
            light = (means[i][j] or 0) < _middle(means)
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if light else "black")  # fmt: skip
    ax.set_xticks(range(len(grid.x_values)), [value_label(v) for v in grid.x_values])
    ax.set_yticks(range(len(grid.y_values)), [value_label(v) for v in grid.y_values])
    ax.set_xlabel(grid.x_field)
    ax.set_ylabel(grid.y_field)
    ax.set_title(grid.title, fontsize=10)
    fig.colorbar(image, ax=ax, label="test accuracy (mean over seeds)")
    fig.text(0.5, -0.01, caption, ha="center", va="top", fontsize=8, wrap=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def grid_figures(cases: Sequence[GridCase], caption: str) -> dict[str, tuple[str, bytes]]:
    """File name -> (title, PNG) for every two-field grid in ``cases``."""
    out: dict[str, tuple[str, bytes]] = {}
    for grid in find_grids(cases):
        png = draw_heatmap(grid, caption)
        if png is not None:
            out[grid.file_name] = (grid.title, png)
    return out


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _hashable(case: GridCase, field: str) -> bool:
    try:
        hash(case.recipe.get(field))
    except TypeError:
        return False
    return True


def _sorted(values: set[Any], members: Sequence[GridCase], field: str) -> tuple[Any, ...]:
    """Values in order: numbers ascending, anything else in order of first appearance."""
    if not values:  # unhashable values (lists): first appearance, by their JSON text
        seen = dict.fromkeys(_key(c.recipe.get(field)) for c in members)
        return tuple(json.loads(k) for k in seen)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return tuple(sorted(values))
    order = list(dict.fromkeys(c.recipe.get(field) for c in members))
    return tuple(v for v in order if v in values)


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _middle(means: list[list[float | None]]) -> float:
    flat = [m for row in means for m in row if m is not None]
    return (min(flat) + max(flat)) / 2 if flat else 0.0


def value_label(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)

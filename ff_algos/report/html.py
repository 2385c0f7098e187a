"""``report.html`` and ``ff-bench compare --html``: one self-contained page that opens from
``file://`` with no network.

The page shows the very tables of ``report.md`` (:class:`ff_algos.report.tables.Table`, cells as
printed there: ``mean ± half-width (n=k)``, ``n/a`` with the recorded reasons on hover), each
sortable by a click on its header (numbers by value, whatever their unit) and filterable by
dataset, method and free text (a recipe, a machine); the Runs table has a machine selector when
the runs come from several machines. The figures are the interactive twins of the PNGs
(:mod:`ff_algos.report.html_figures`). plotly.js, the style and the script are inlined once
(:mod:`ff_algos.report.html_assets`); no tag loads anything from a URL.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ff_algos.report import machine
from ff_algos.report.cases import CaseGroup
from ff_algos.report.compare import Comparison, Thresholds
from ff_algos.report.html_assets import SCRIPT, STYLE
from ff_algos.report.html_figures import Json, PlotFigure
from ff_algos.report.rows import row_label
from ff_algos.report.runs import SavedRun
from ff_algos.report.tables import Table
from ff_algos.telemetry import units

GENERATOR = "ff-bench"  # <meta name="generator">: marks a page this module wrote

_NUMBER = re.compile(
    r"^\s*(?P<sign>[+\-−±]?)(?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(?P<unit>[^\s/(]*(?:/\S+)?)?",
    re.IGNORECASE,
)
_SCALE = {"µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "%": 0.01}
_BINARY = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_SI = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_SI_UNITS = ("FLOP/s", "FLOP", "W", "J/pt", "J")


def sort_key(cell: str) -> float | None:
    """The number a cell starts with, in its base unit (``12 ms`` -> 0.012, ``1.5 GiB`` ->
    1610612736, ``3.4×`` -> 3.4, ``−0.020`` -> -0.02); None for cells without one (``n/a``)."""
    found = _NUMBER.match(cell)
    if found is None:
        return None
    value = float(found["num"])
    if found["sign"] in ("-", "−"):
        value = -value
    unit = (found["unit"] or "").rstrip(",;")
    if unit.endswith("×"):
        return value
    if unit in _SCALE:
        return value * _SCALE[unit]
    if unit in _BINARY:
        return value * _BINARY[unit]
    for base in _SI_UNITS:
        if unit.endswith(base) and unit[: -len(base)] in ("", *_SI):
            return value * _SI.get(unit[: -len(base)], 1.0)
    return value


@dataclass(frozen=True)
class MachineColumns:
    """The Runs table's columns by machine: a selector shows one machine's runs."""

    names: tuple[str, ...]  # one per run column, in order

    @property
    def several(self) -> bool:
        """Whether the runs come from more than one machine."""
        return len(set(self.names)) > 1


def machine_name(run: SavedRun) -> str:
    """What tells machines apart: the GPU, else the CPU model, with the machine folder."""
    facts = machine.ff_bench(run.machine_info)
    device = facts.get("gpu_name") or machine.cpu_model(run.machine_info) or units.NA
    return f"{device} ({run.machine_id})"


@dataclass(frozen=True)
class RowFacts:
    """What a row's method label stands for: its recipe and the machines its cases ran on."""

    recipe: str
    machines: tuple[str, ...]


def row_facts(groups: Sequence[CaseGroup], runs: Sequence[SavedRun]) -> dict[str, RowFacts]:
    """Row label (as the tables print it) -> its recipe and machines, for the row filters."""
    by_run = {r.label: machine_name(r) for r in runs}
    out: dict[str, RowFacts] = {}
    for g in groups:
        label = row_label(g, groups)
        found = [by_run.get(c.run, c.run) for c in g.cases]
        before = out.get(label)
        machines = (*before.machines, *found) if before else tuple(found)
        out[label] = RowFacts(g.recipe_name, tuple(dict.fromkeys(machines)))
    return out


def table_html(
    table: Table,
    table_id: str,
    *,
    machines: MachineColumns | None = None,
    flag_column: int | None = None,
    facts: Mapping[str, RowFacts] | None = None,
) -> str:
    """One table: heading, sortable header, rows (numbers right-aligned with sort keys), notes.

    ``machines`` tags the run columns (all but the first) of a Runs table; ``flag_column`` marks
    rows whose cell there is not empty as flagged; ``facts`` tags method cells with their recipe
    and machines (and a recipe column with its recipe) for the recipe and machine filters. A
    leading cell left empty because it repeats the row above (a comparison's case) is filled in,
    dimmed, so sorting keeps each row whole.
    """
    na_title = "; ".join(n for n in table.notes if n.startswith("n/a")) or (
        "not measured on this device (the reason is under the table)"
    )
    columns = [c.lower() for c in table.columns]
    dataset_col = columns.index("dataset") if "dataset" in columns else -1
    method_col = columns.index("method") if "method" in columns else -1
    recipe_col = columns.index("recipe") if "recipe" in columns else -1
    head = []
    for i, name in enumerate(table.columns):
        attr = _machine_attr(machines, i)
        head.append(f"<th{attr}><button type='button'>{html.escape(name) or '·'}</button></th>")
    body = []
    previous: tuple[str, ...] = ()
    for row in table.rows:
        cells = []
        flagged = flag_column is not None and bool(row[flag_column].strip())
        for i, cell in enumerate(row):
            classes = []
            attrs = _machine_attr(machines, i)
            text = cell
            if i == 0 and not cell and previous and machines is None:
                text = previous[0]
                classes.append("same")
            if i >= table.left:
                classes.append("num")
                key = sort_key(text)
                if key is not None:
                    attrs += f' data-sort="{key!r}"'
            if text == units.NA or text.startswith(f"{units.NA} "):
                classes.append("na")
                attrs += f' title="{html.escape(na_title)}"'
            if i == flag_column:
                classes.append("flag")
            if i == dataset_col:
                attrs += f' data-value="{html.escape(text)}"'
            if i == method_col:
                attrs += f' data-base="{html.escape(_base(text))}"'
                fact = (facts or {}).get(text)
                if fact is not None:
                    attrs += f' data-machines="{html.escape(json.dumps(fact.machines))}"'
                    if recipe_col < 0:
                        attrs += f' data-recipe="{html.escape(fact.recipe)}"'
            if i == recipe_col and facts is not None:
                attrs += f' data-recipe="{html.escape(text)}"'
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{cls}{attrs}>{html.escape(text)}</td>")
        previous = tuple(c or (previous[j] if previous else "") for j, c in enumerate(row))
        row_class = ' class="flagged"' if flagged else ""
        body.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in table.notes)
    return (
        f'<h3 id="{table_id}-title">{html.escape(table.title)}</h3>'
        f'<div class="count" id="{table_id}-count"></div>'
        f'<div class="scroll"><table class="ffb" id="{table_id}" data-filter '
        f'data-dataset-col="{dataset_col}" data-method-col="{method_col}">'
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
    )


def _machine_attr(machines: MachineColumns | None, column: int) -> str:
    if machines is None or not machines.several or column == 0:
        return ""
    return f' data-machine="{html.escape(machines.names[column - 1])}"'


def _base(method: str) -> str:
    """``FF (quick, lr=0.1)`` -> ``FF``."""
    return method.split(" (", 1)[0]


def _filters(
    tables: Sequence[Table],
    machines: MachineColumns | None,
    facts: Mapping[str, RowFacts] | None = None,
) -> str:
    """The filter bar: a select for each of dataset, method, recipe and machine that takes more
    than one value in these tables, and a free-text filter."""
    values: dict[str, dict[str, None]] = {"dataset": {}, "method": {}}
    for table in tables:
        columns = [c.lower() for c in table.columns]
        for name in values:
            if name in columns:
                index = columns.index(name)
                for row in table.rows:
                    value = row[index] if name == "dataset" else _base(row[index])
                    if value and not value.startswith("("):
                        values[name][value] = None
    parts = []
    for name, found in values.items():
        if len(found) > 1:
            options = "".join(f"<option>{html.escape(v)}</option>" for v in found)
            parts.append(
                f'<label>{name} <select id="filter-{name}"><option value="">all</option>'
                f"{options}</select></label>"
            )
    recipes = list(dict.fromkeys(f.recipe for f in (facts or {}).values()))
    if len(recipes) > 1:
        options = "".join(f"<option>{html.escape(v)}</option>" for v in recipes)
        parts.append(
            '<label>recipe <select id="filter-recipe"><option value="">all</option>'
            f"{options}</select></label>"
        )
    names = [
        *(machines.names if machines else ()),
        *(m for f in (facts or {}).values() for m in f.machines),
    ]
    if len(set(names)) > 1:
        options = "".join(f"<option>{html.escape(v)}</option>" for v in dict.fromkeys(names))
        parts.append(
            '<label>machine <select id="filter-machine">'
            f'<option value="">all</option>{options}</select></label>'
        )
    parts.append(
        '<label>filter rows <input id="filter-text" type="search" '
        'placeholder="any text: a recipe, a machine, a case"></label>'
        "<span>click a column header to sort</span>"
    )
    return f'<div class="filters">{"".join(parts)}</div>'


def _figure_html(figure: PlotFigure, caption: str) -> str:
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in figure.notes)
    return (
        f'<h3 id="fig-{figure.name}-title">{html.escape(figure.title)}</h3>'
        f'<div class="figure" id="fig-{figure.name}" data-points="{figure.points}" '
        f'data-traces="{len(figure.data)}"></div>'
        f'<p class="caption">{html.escape(caption)}</p>'
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
    )


def _figures_json(figures: Sequence[PlotFigure]) -> str:
    data: list[Json] = [
        {"id": f"fig-{f.name}", "data": f.data, "layout": f.layout} for f in figures
    ]
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/")  # never closes the script element early


def page(
    title: str,
    generator: str,
    body: str,
    figures: Sequence[PlotFigure],
    plotly: str,
) -> str:
    """A whole page: head with the inlined style and plotly.js, the body, the figures' data and
    the page's script."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='generator' content='{GENERATOR} {html.escape(generator)}'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f"<script>{plotly}</script></head><body>{body}"
        f'<script type="application/json" id="ffb-figures">{_figures_json(figures)}</script>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def _toc(entries: Sequence[tuple[str, str]]) -> str:
    links = "".join(f'<a href="#{i}">{html.escape(t)}</a>' for i, t in entries)
    return f'<nav class="toc">{links}</nav>'


def report_html(
    runs: Sequence[SavedRun],
    groups: Sequence[CaseGroup],
    tables: Sequence[Table],
    figures: Sequence[PlotFigure],
    caption: str,
    plotly: str,
    figures_message: str | None = None,
) -> str:
    """``report.html``: the report's tables (the first is the Runs table) of the runs' ``groups``,
    and the figures."""
    machines = MachineColumns(tuple(machine_name(r) for r in runs))
    facts = row_facts(groups, runs)
    heading = f"ff-bench report: {', '.join(r.label for r in runs)}"
    entries = [(f"table-{i}-title", t.title) for i, t in enumerate(tables)]
    entries += [(f"fig-{f.name}-title", f.title) for f in figures]
    parts = [
        f"<h1>{html.escape(heading)}</h1>",
        '<p class="lead">Made by <code>ff-bench report</code> from the saved pytest-benchmark '
        "runs copied under <code>runs/</code>. Cells over several seeds are <code>mean ± "
        "half-width (n=k)</code> of the 95% t interval. <code>n/a</code>: not measured on this "
        "device (hover it for the reason, also listed under the table); <code>—</code>: not "
        "applicable. Figures: hover a point for its value, click a legend entry to hide or "
        "show a series, drag to zoom, double-click to reset.</p>",
        f'<p class="lead">{html.escape(caption)}</p>',
        _toc(entries),
        _filters(tables, machines, facts),
        "<h2>Tables</h2>",
    ]
    for i, table in enumerate(tables):
        if i == 0:
            parts.append(table_html(table, "table-0", machines=machines))
        else:
            parts.append(table_html(table, f"table-{i}", facts=facts))
    if figures or figures_message:
        parts.append("<h2>Figures</h2>")
    if figures_message:
        parts.append(f"<p>{html.escape(figures_message)}</p>")
    parts.extend(_figure_html(f, caption) for f in figures)
    return page(heading, "report", "".join(parts), figures, plotly)


def compare_html(
    runs_table: Table,
    runs: Sequence[SavedRun],
    comparisons: Sequence[Comparison],
    thresholds: Thresholds,
    figures: Sequence[PlotFigure],
    plotly: str,
) -> str:
    """The comparison page: the runs side by side (machines, commits), then per run B its
    warnings, flagged changes (highlighted rows) and the table of every metric."""
    machines = MachineColumns(tuple(machine_name(r) for r in runs))
    heading = f"ff-bench compare: A = {runs[0].label} vs {', '.join(r.label for r in runs[1:])}"
    flagged = sum(len(c.flags) for c in comparisons)
    parts = [
        f"<h1>{html.escape(heading)}</h1>",
        '<p class="lead">Made by <code>ff-bench compare</code>. Flagged (rows in red): an '
        f"accuracy drop above {thresholds.accuracy_tol:g} (where both runs have 2+ seeds, only "
        "if Welch's t-test at 95% also finds it), an end-to-end or train time ratio B/A above "
        f"{thresholds.slowdown:g}, a case of A missing from B.</p>",
        f'<p class="{"flags" if flagged else "ok"}">'
        + (f"{flagged} change(s) flagged" if flagged else "nothing flagged")
        + "</p>",
        _filters([c.table for c in comparisons], machines),
        table_html(runs_table, "table-runs", machines=machines),
    ]
    for i, comparison in enumerate(comparisons):
        parts.append(f"<h2>{html.escape(comparison.table.title)}</h2>")
        if comparison.warnings:
            items = "".join(f"<li>{html.escape(w)}</li>" for w in comparison.warnings)
            parts.append(f'<div class="warnings">warnings:<ul>{items}</ul></div>')
        if comparison.flags:
            items = "".join(f"<li>FLAGGED {html.escape(str(f))}</li>" for f in comparison.flags)
            parts.append(f'<div class="flags"><ul>{items}</ul></div>')
        for side, names in (("A", comparison.only_a), ("B", comparison.only_b)):
            if names:
                run = comparison.a if side == "A" else comparison.b
                parts.append(
                    f"<p>only in {side} ({html.escape(run.label)}): "
                    f"{html.escape(', '.join(names))}</p>"
                )
        flag_column = comparison.table.columns.index("flag")
        parts.append(table_html(comparison.table, f"table-{i}", flag_column=flag_column))
    if figures:
        parts.append("<h2>Figures</h2>")
        parts.extend(
            _figure_html(f, "B against A, per case; dashed: the flag thresholds.") for f in figures
        )
    return page(heading, "compare", "".join(parts), figures, plotly)

"""``ff-bench report`` end to end: find and load runs, merge their cases, print the tables, and
write ``report.md``, ``report.html`` (the same tables and interactive figures in one offline page,
:mod:`ff_algos.report.html`), ``summary.json``, the figures and a copy of each saved run into the
report folder (``runs/<machine-id>/<file>``, so the folder is a storage ``ff-bench report`` can
read)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ff_algos.report.cases import CaseGroup, group_cases, merge_cases
from ff_algos.report.curves import curve_figures, curve_tables
from ff_algos.report.figures import ERROR_BARS, FIGURES, PLOTS_HINT, draw_figures
from ff_algos.report.heatmap import GridCase, grid_figures
from ff_algos.report.html import report_html
from ff_algos.report.html_assets import HTML_HINT, plotly_js
from ff_algos.report.html_figures import plot_figures
from ff_algos.report.output import (
    RUNS_FOLDER,
    check_folder,
    check_run_copies,
    default_folder,
    previous_figures,
    remove_stale,
    write_atomic,
)
from ff_algos.report.parallel import parallel_figures, parallel_tables
from ff_algos.report.runs import SavedRun, find_runs, load_runs
from ff_algos.report.scaling import scaling_figures, scaling_table
from ff_algos.report.sections import report_tables
from ff_algos.report.summary import build_summary
from ff_algos.report.tables import Table, print_tables, to_markdown

HTML_NAME = "report.html"
_FIGURE_TITLES = {
    "time_end_to_end.png": "End-to-end time per dataset, FF and backprop",
    "time_ff_layers.png": "FF compute time per layer",
    "compute_per_epoch.png": "Compute time per epoch (FF and backprop panels)",
    "accuracy.png": "Accuracy against the study's values",
    "memory_energy.png": "Memory peaks and energy per case",
}


@dataclass(frozen=True)
class ReportResult:
    """What a report wrote, and a message when figures were skipped."""

    folder: Path
    written: tuple[Path, ...]
    figures: tuple[str, ...]
    plots_message: str | None


def make_report(
    specs: Sequence[str],
    storage: Path,
    out: Path | None,
    *,
    force: bool = False,
    figures: bool = True,
    console: Console,
) -> ReportResult:
    """Report on the runs named by ``specs`` (the latest run when empty)."""
    found = find_runs(specs, storage)
    runs = load_runs(found.refs)
    merged = merge_cases([(r.label, r.datetime, r.cases) for r in runs])
    groups = group_cases(merged.cases)
    notes = [*found.notes, *merged.notes]
    folder = out if out is not None else default_folder(r.ref.stem for r in runs)
    check_folder(folder, {r.digest for r in runs}, force)
    copies = {
        Path(RUNS_FOLDER, r.machine_id, r.ref.path.name): r.ref.path.read_bytes() for r in runs
    }
    check_run_copies(folder, copies)

    scaling = [p for r in runs for p in r.scaling]
    tables = [
        *(report_tables(runs, groups, notes) if groups else []),
        *curve_tables(groups),
        *scaling_table(scaling),
        *parallel_tables([c.record for c in merged.cases]),
    ]
    print_tables(console, tables)

    pngs = draw_figures(groups, caption(runs, groups)) if figures and groups else {}
    message = PLOTS_HINT if pngs is None else None
    pngs = pngs or {}
    grid_cases = [
        GridCase(c.dataset, c.method, c.recipe, c.record.accuracy.test) for c in merged.cases
    ]
    heatmaps = grid_figures(grid_cases, caption(runs, groups)) if figures and not message else {}
    curves = curve_figures(groups, caption(runs, groups)) if figures and not message else {}
    scaled = scaling_figures(scaling, caption(runs, groups)) if figures and not message else {}
    extra = {**heatmaps, **curves, **scaled}
    if figures and not message:
        extra |= parallel_figures([c.record for c in merged.cases], caption(runs, groups))
    pngs |= {name: png for name, (_, png) in extra.items()}
    titles = {**_FIGURE_TITLES, **{name: title for name, (title, _) in extra.items()}}
    old_figures = previous_figures(folder)
    summary = build_summary(runs, groups, notes, list(pngs))
    seeded = any(len(g.cases) > 1 for g in groups)
    shown = f"{caption(runs, groups)} {ERROR_BARS}" if seeded else caption(runs, groups)
    markdown = render_markdown(runs, tables, list(pngs), shown, message, titles)
    plotly = plotly_js()
    page = None
    if plotly is not None:
        interactive = plot_figures(groups, grid_cases, scaling) if figures else []
        skipped = None if figures else "figures skipped (--no-figures)"
        page = report_html(runs, groups, tables, interactive, shown, plotly, skipped)

    written: list[Path] = []
    for relative, data in copies.items():
        write_atomic(folder / relative, data)
        written.append(folder / relative)
    for name, png in pngs.items():
        write_atomic(folder / name, png)
        written.append(folder / name)
    remove_stale(folder, [*old_figures, *FIGURES], pngs)
    write_atomic(folder / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    write_atomic(folder / "report.md", markdown.encode())
    written.extend((folder / "summary.json", folder / "report.md"))
    if page is not None:
        write_atomic(folder / HTML_NAME, page.encode())
        written.append(folder / HTML_NAME)

    if message:
        console.print(Text(message))
    if page is None:
        console.print(Text(HTML_HINT))
    html_part = f"{HTML_NAME}, " if page is not None else ""
    console.print(
        Text(
            f"report written to {folder}/ (report.md, {html_part}summary.json, {len(pngs)} figures)"
        )
    )
    return ReportResult(folder, tuple(written), tuple(pngs), message)


def caption(runs: Sequence[SavedRun], groups: Sequence[CaseGroup]) -> str:
    """The figures' caption: devices, runs and recipes the numbers came from."""
    devices = list(dict.fromkeys(c.device_label for g in groups for c in g.cases))
    recipes = list(dict.fromkeys(g.recipe_name for g in groups))
    return (
        f"Device: {'; '.join(devices)}. Runs: {', '.join(r.label for r in runs)}. "
        f"Recipe: {', '.join(recipes)}."
    )


def render_markdown(
    runs: Sequence[SavedRun],
    tables: Sequence[Table],
    figures: Sequence[str],
    figure_caption: str,
    plots_message: str | None,
    titles: Mapping[str, str] = _FIGURE_TITLES,
) -> str:
    """``report.md``: a heading, the tables, then the figures with their captions."""
    lines = [
        f"# ff-bench report: {', '.join(r.label for r in runs)}",
        "",
        "Made by `ff-bench report` from the saved pytest-benchmark runs copied under `runs/`. "
        "`n/a`: not measured on this device (the reason is given under the table); "
        "`—`: not applicable.",
        "",
    ]
    lines.extend(to_markdown(t) for t in tables)
    if figures or plots_message:
        lines.extend(["## Figures", ""])
    if plots_message:
        lines.extend([plots_message, ""])
    for name in figures:
        title = titles.get(name, name)
        lines.extend([f"### {title}", "", f"![{title}]({name})", "", f"*{figure_caption}*", ""])
    return "\n".join(lines)

"""The ``ff-bench report`` and ``ff-bench compare`` sub-commands.

    ff-bench report [RUN ...] [--storage DIR] [--out DIR] [--force] [--no-figures]
    ff-bench compare RUN_A RUN_B [RUN ...] [--storage DIR] [--accuracy-tol 0.01]
                     [--slowdown 1.10] [--fail-on-regression] [--html OUT]

A RUN is a saved run's path, number (``0001`` or ``1``) or name; see :mod:`ff_algos.report.runs`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ff_algos.report.runs import DEFAULT_STORAGE

_RUN_HELP = "a saved run: path, number (0001 or 1) or name (part of the file name)"
_WIDE = 200  # columns when the output is not a terminal, so tables are not squeezed


def register(subparsers: Any) -> None:
    """Add ``report`` and ``compare`` to the ``ff-bench`` parser."""
    report = subparsers.add_parser(
        "report",
        help="tables, Markdown, summary.json and figures from saved benchmark runs",
        description="Report on saved runs of `pytest bench/ --benchmark-save=NAME`: accuracy "
        "beside the study's, time, FF/backprop ratios, FLOPs, memory, power and energy.",
    )
    report.add_argument("runs", nargs="*", metavar="RUN", help=_RUN_HELP + " (default: latest)")
    _storage(report)
    report.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="report folder (default: reports/<run name>/); a folder holding another report is "
        "refused unless --force",
    )
    report.add_argument(
        "--force",
        action="store_true",
        help="replace the report files of a folder that holds another report",
    )
    report.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    report.set_defaults(run=run_report)

    compare = subparsers.add_parser(
        "compare",
        help="saved runs side by side (machines, commits), with regressions flagged",
        description="Compare saved runs case by case against the first (A); flags accuracy "
        "drops and slowdowns.",
    )
    compare.add_argument("baseline", metavar="RUN_A", help=_RUN_HELP + " (the baseline)")
    compare.add_argument("others", nargs="+", metavar="RUN_B", help=_RUN_HELP)
    _storage(compare)
    compare.add_argument(
        "--accuracy-tol",
        type=_fraction,
        default=0.01,
        metavar="FRACTION",
        help="flag an accuracy drop larger than this (absolute fraction; default 0.01); where "
        "both runs have 2+ seeds, only if Welch's t-test at 95%% also finds it",
    )
    compare.add_argument(
        "--slowdown",
        type=_ratio,
        default=1.10,
        metavar="RATIO",
        help="flag end-to-end or train time ratios B/A above this (default 1.10)",
    )
    compare.add_argument(
        "--html",
        type=Path,
        metavar="OUT",
        help="also write the comparison as one self-contained HTML page (needs the plots "
        "extra); a file that is not an earlier comparison page is never replaced",
    )
    compare.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit with status 1 when anything is flagged",
    )
    compare.set_defaults(run=run_compare)


def _storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        type=storage_path,
        default=DEFAULT_STORAGE,
        metavar="DIR",
        help=f"pytest-benchmark storage folder (default: {DEFAULT_STORAGE})",
    )


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _fraction(text: str) -> float:
    """``--accuracy-tol``: a finite fraction of at least 0."""
    value = _number(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(
            f"expected a fraction of at least 0, e.g. 0.01, not {text!r}"
        )
    return value


def _ratio(text: str) -> float:
    """``--slowdown``: a finite ratio above 0."""
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a ratio above 0, e.g. 1.10, not {text!r}")
    return value


def storage_path(text: str) -> Path:
    """A ``--storage`` folder; pytest-benchmark's ``file://`` form is accepted too."""
    return Path(text.removeprefix("file://")).expanduser()


def console() -> Console:
    """A console for the tables: the terminal's width, or wide when output is redirected."""
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=_WIDE)


def run_report(args: argparse.Namespace) -> int:
    """``ff-bench report``."""
    from ff_algos.report.build import make_report

    make_report(
        args.runs,
        args.storage,
        args.out,
        force=args.force,
        figures=not args.no_figures,
        console=console(),
    )
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """``ff-bench compare``: 1 when ``--fail-on-regression`` and anything is flagged, else 0."""
    from ff_algos.report.compare import Thresholds, compare_runs, runs_table
    from ff_algos.report.runs import find_run, load_run
    from ff_algos.report.tables import print_tables

    plotly = None
    if args.html is not None:
        from ff_algos.report.html_output import check_html_target, require_plotly

        check_html_target(args.html)
        plotly = require_plotly()
    out = console()
    runs = []
    for spec in (args.baseline, *args.others):
        ref, note = find_run(spec, args.storage)
        if note:
            out.print(Text(f"note: {note}"))
        runs.append(load_run(ref))
    if any(r.digest == runs[0].digest for r in runs[1:]):
        out.print(Text("note: a run is compared with an identical copy of itself"))
    print_tables(out, [runs_table(runs)])
    thresholds = Thresholds(accuracy_tol=args.accuracy_tol, slowdown=args.slowdown)
    flagged = 0
    results = []
    for other in runs[1:]:
        result = compare_runs(runs[0], other, thresholds)
        results.append(result)
        for warning in result.warnings:
            out.print(Text(f"warning: {warning}", style="bold yellow"))
        print_tables(out, [result.table])
        if result.only_a:
            out.print(Text(f"only in A ({runs[0].label}): {', '.join(result.only_a)}"))
        if result.only_b:
            out.print(Text(f"only in B ({other.label}): {', '.join(result.only_b)}"))
        for flag in result.flags:
            out.print(Text(f"FLAGGED {flag}", style="bold red"))
        flagged += len(result.flags)
        out.print()
    verdict = f"{flagged} change(s) flagged" if flagged else "nothing flagged"
    out.print(Text(verdict))
    if args.html is not None and plotly is not None:
        from ff_algos.report.html_output import write_compare_html

        write_compare_html(args.html, runs_table(runs), runs, results, thresholds, plotly)
        out.print(Text(f"comparison page written to {args.html}"))
    return 1 if flagged and args.fail_on_regression else 0

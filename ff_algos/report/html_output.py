"""Writing ``ff-bench compare --html OUT``: the target is checked before any run is read, and
the page is written atomically (temporary file and rename).

Rule: ``OUT`` may be a new file or a comparison page written earlier by ``ff-bench compare``
(its ``<meta name="generator">`` says so); anything else, a folder included, is refused with a
one-line message and never replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ff_algos.report.compare import Comparison, Thresholds
from ff_algos.report.errors import OutputFolderError, ReportError
from ff_algos.report.html import GENERATOR, compare_html
from ff_algos.report.html_assets import plotly_js
from ff_algos.report.html_figures import compare_figures
from ff_algos.report.output import write_atomic
from ff_algos.report.runs import SavedRun
from ff_algos.report.tables import Table

_MARK = f"<meta name='generator' content='{GENERATOR} compare'>".encode()


def check_html_target(path: Path) -> None:
    """Raise :class:`OutputFolderError` unless ``path`` is new or an earlier comparison page."""
    if path.is_dir():
        raise OutputFolderError(f"--html {path} is a folder; pass a file name, e.g. compare.html")
    if path.exists() and _MARK not in path.read_bytes()[:4096]:
        raise OutputFolderError(
            f"--html {path} exists and is not a page of ff-bench compare; it is never "
            "replaced: choose another file"
        )
    if not path.parent.is_dir():
        raise OutputFolderError(f"--html {path}: folder {path.parent} does not exist; create it")


def require_plotly() -> str:
    """plotly.js, or a one-line :class:`ReportError` saying how to install it."""
    text = plotly_js()
    if text is None:
        raise ReportError("--html needs plotly (the plots extra): pip install 'ff-bench[plots]'")
    return text


def write_compare_html(
    path: Path,
    runs_table: Table,
    runs: Sequence[SavedRun],
    comparisons: Sequence[Comparison],
    thresholds: Thresholds,
    plotly: str,
) -> None:
    """The comparison page of ``comparisons`` (each run B against A), written atomically."""
    figures = []
    for i, c in enumerate(comparisons):
        suffix = "" if len(comparisons) == 1 else f"_b{i + 1}"
        figures.extend(
            compare_figures(c.pairs, thresholds.slowdown, thresholds.accuracy_tol, suffix)
        )
    page = compare_html(runs_table, runs, comparisons, thresholds, figures, plotly)
    write_atomic(path, page.encode())

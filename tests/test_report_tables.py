"""Tables render the same cells with rich and as Markdown."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ff_algos.report.tables import Table, print_tables, to_markdown

TABLE = Table(
    title="Time",
    columns=("dataset", "method", "seconds"),
    rows=(("MNIST", "FF", "12.3 s"), ("a|b", "test_fit[mnist-ff]", "n/a")),
    notes=("n/a: not measured",),
    left=2,
)


def test_markdown_layout_and_escaping() -> None:
    text = to_markdown(TABLE)
    lines = text.splitlines()
    assert lines[0] == "### Time"
    assert lines[2] == "| dataset | method | seconds |"
    assert lines[3] == "|:---|:---|---:|"
    assert lines[4] == "| MNIST | FF | 12.3 s |"
    assert lines[5] == "| a\\|b | test_fit[mnist-ff] | n/a |"
    assert "- n/a: not measured" in lines


def test_rich_shows_every_cell_verbatim() -> None:
    buffer = io.StringIO()
    print_tables(Console(file=buffer, width=200, color_system=None), [TABLE])
    out = buffer.getvalue()
    for cell in ("MNIST", "12.3 s", "a|b", "test_fit[mnist-ff]", "n/a: not measured"):
        assert cell in out  # brackets are not taken as rich markup


def test_rows_must_match_the_columns() -> None:
    with pytest.raises(ValueError, match="cells"):
        Table(title="x", columns=("a", "b"), rows=(("1",),))

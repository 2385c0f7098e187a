"""A plain table (title, columns, rows of strings, notes) rendered with rich or as Markdown, so
the terminal and ``report.md`` always show the same numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text


@dataclass(frozen=True)
class Table:
    """Rows of already formatted cells; the first ``left`` columns are text, the rest numbers."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = field(default=())
    left: int = 1

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(self.columns)}")


def to_rich(table: Table) -> RichTable:
    """The table as a rich renderable (cells are plain text, never parsed as markup)."""
    out = RichTable(
        title=Text(table.title, style="bold"), box=box.SIMPLE_HEAD, title_justify="left"
    )
    for i, name in enumerate(table.columns):
        out.add_column(Text(name), justify="left" if i < table.left else "right")
    for row in table.rows:
        out.add_row(*(Text(cell) for cell in row))
    return out


def print_tables(console: Console, tables: Sequence[Table]) -> None:
    """Print each table with its notes below it."""
    for table in tables:
        console.print(to_rich(table))
        for note in table.notes:
            console.print(Text(f"  {note}"))
        console.print()


def to_markdown(table: Table) -> str:
    """The table as a Markdown section: heading, pipe table, then its notes as a list."""
    lines = [f"### {table.title}", ""]
    lines.append("| " + " | ".join(_md(c) for c in table.columns) + " |")
    lines.append(
        "|"
        + "|".join(":---" if i < table.left else "---:" for i in range(len(table.columns)))
        + "|"
    )
    lines.extend("| " + " | ".join(_md(c) for c in row) + " |" for row in table.rows)
    if table.notes:
        lines.append("")
        lines.extend(f"- {_md(note)}" for note in table.notes)
    lines.append("")
    return "\n".join(lines)


def _md(cell: str) -> str:
    """Escape what would break a Markdown table cell."""
    return cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

"""Per-file progress reports (fetching, verifying, decoding, caching) and a rich display of them."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import Progress as RichProgressBar
from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

FINAL_STAGES = frozenset({"done", "present", "decoded", "failed"})


class Progress(Protocol):
    """Receives the stage each file is in; ``item`` is "dataset/file"."""

    def update(self, item: str, stage: str) -> None:
        """``item`` entered ``stage``: fetching, verifying, decoding, caching, or a final one
        (done, present, decoded, failed)."""


class NullProgress:
    """Ignores every report."""

    def update(self, item: str, stage: str) -> None:
        """Do nothing."""


class RichFileProgress:
    """One line per file with a spinner and its current stage; use as a context manager."""

    def __init__(self, console: Console | None = None) -> None:
        self._bar = RichProgressBar(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description:<44}"),
            TextColumn("{task.fields[stage]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichFileProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def update(self, item: str, stage: str) -> None:
        """Show ``item`` at ``stage``; a final stage stops its spinner."""
        if item not in self._tasks:
            self._tasks[item] = self._bar.add_task(item, total=1, stage=stage)
        done = stage in FINAL_STAGES
        self._bar.update(self._tasks[item], stage=stage, completed=1 if done else 0)

"""A live progress display for one training run (phase, epoch, elapsed).

It implements :class:`ff_algos.method.TrainObserver`: the training loop tells it which epoch it
has *queued*, so it never waits on the device. It redraws from the training thread at most
``REDRAW_S`` apart instead of from rich's own refresh thread: a third busy thread on a small CPU
slows multi-threaded tensor kernels down many times over. It draws only on a terminal; elsewhere
:func:`progress_observer` returns a silent observer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ff_algos.method import NullObserver, TrainObserver

REDRAW_S = 0.25

Terminal = Callable[[], AbstractContextManager[Console]]
"""Opens a console on the real terminal for the duration of a ``with`` block."""


class RichProgress:
    """One progress bar per phase, labelled with the case and the phase."""

    def __init__(self, console: Console, label: str) -> None:
        self._label = label
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("epochs"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            auto_refresh=False,
        )
        self._task: TaskID | None = None
        self._drawn_at = 0.0

    def phase_start(self, name: str, epochs: int) -> None:
        if self._task is None:
            self._progress.start()
        else:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(f"{self._label} {name}", total=epochs)
        self._redraw(force=True)

    def epoch_end(self, epoch: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=epoch + 1)
            self._redraw(force=False)

    def _redraw(self, *, force: bool) -> None:
        now = time.perf_counter()
        if force or now - self._drawn_at >= REDRAW_S:
            self._progress.refresh()
            self._drawn_at = now

    def phase_end(self) -> None:
        pass

    def close(self) -> None:
        """Stop drawing; safe to call more than once."""
        self._progress.stop()


def progress_observer(console: Console, label: str) -> tuple[TrainObserver, RichProgress | None]:
    """A drawing observer on a terminal, a silent one elsewhere; the second value is what to
    :meth:`RichProgress.close` when the run ends."""
    if not console.is_terminal:
        return NullObserver(), None
    bar = RichProgress(console, label)
    return bar, bar

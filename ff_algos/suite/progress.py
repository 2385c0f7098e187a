"""A live progress display for one training run (phase, epoch, elapsed).

It implements :class:`ff_algos.observe.TrainObserver`: the training loop tells it which epoch it
has *queued*, so it never waits on the device. It draws only on a terminal; elsewhere
:func:`progress_observer` returns a silent observer.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ff_algos.observe import NullObserver, TrainObserver


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
        )
        self._task: TaskID | None = None

    def phase_start(self, name: str, epochs: int) -> None:
        if self._task is None:
            self._progress.start()
        else:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(f"{self._label} {name}", total=epochs)

    def epoch_end(self, epoch: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=epoch + 1)

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

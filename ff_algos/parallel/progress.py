"""Epoch ends from a world's last rank to the parent's training observer.

The last rank appends ``start N``, ``epoch E`` and ``end`` lines to the job's progress file; the
parent's :class:`ProgressRelay` thread reads them and calls the observer, so the suite's epoch
clock and progress bar see the world's epochs as they end. A world of one in process calls the
observer directly (:class:`ObserverProgress`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ff_algos.method import TrainObserver, offer_model

if TYPE_CHECKING:
    from ff_algos.method import Classifier

PHASE = "train"  # the one phase a parallel method reports


class Progress(Protocol):
    """What a rank reports about its epochs."""

    def start(self, epochs: int) -> None: ...
    def epoch_end(self, epoch: int) -> None: ...
    def offer(self, epoch: int, model: Callable[[], Classifier]) -> None: ...
    def end(self) -> None: ...


class ObserverProgress:
    """Progress straight to an observer (a world of one, in process)."""

    def __init__(self, observer: TrainObserver) -> None:
        self.observer = observer

    def start(self, epochs: int) -> None:
        self.observer.phase_start(PHASE, epochs)

    def epoch_end(self, epoch: int) -> None:
        self.observer.epoch_end(epoch)

    def offer(self, epoch: int, model: Callable[[], Classifier]) -> None:
        """The network trained so far, for learning curves (in process only)."""
        offer_model(self.observer, epoch, model)

    def end(self) -> None:
        self.observer.phase_end()


class FileProgress:
    """Progress lines appended to a file (only by the rank that reports: the last)."""

    def __init__(self, path: Path, active: bool) -> None:
        self.path = path
        self.active = active

    def _line(self, text: str) -> None:
        if self.active:
            with self.path.open("a") as f:
                f.write(text + "\n")

    def start(self, epochs: int) -> None:
        self._line(f"start {epochs}")

    def epoch_end(self, epoch: int) -> None:
        self._line(f"epoch {epoch}")

    def offer(self, epoch: int, model: Callable[[], Classifier]) -> None:
        """Nothing: a rank holds only part of the network (no learning curve across ranks)."""

    def end(self) -> None:
        self._line("end")


class ProgressRelay:
    """A thread that follows a progress file and calls ``observer`` for each new line."""

    def __init__(self, path: Path, observer: TrainObserver, poll_s: float = 0.05) -> None:
        self.path = path
        self.observer = observer
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._done = 0  # lines handled
        self._open = False  # a phase started and not ended
        self._thread = threading.Thread(target=self._run, name="ff-bench-progress", daemon=True)

    def __enter__(self) -> ProgressRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._drain()
        if self._open and exc[0] is None:
            self.observer.phase_end()  # the world ended without writing "end"

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._drain()

    def _drain(self) -> None:
        if not self.path.is_file():
            return
        lines = self.path.read_text().split("\n")[:-1]  # complete lines only
        for line in lines[self._done :]:
            kind, _, arg = line.partition(" ")
            if kind == "start":
                self.observer.phase_start(PHASE, int(arg))
                self._open = True
            elif kind == "epoch":
                self.observer.epoch_end(int(arg))
            elif kind == "end" and self._open:
                self.observer.phase_end()
                self._open = False
        self._done = len(lines)

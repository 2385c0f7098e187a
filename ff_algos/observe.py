"""The contract between a training loop and whoever watches it (timers, progress bars).

Training code calls these hooks from the host as it *queues* work; implementations must not
synchronise the device (no `.item()`, no `torch.cuda.synchronize()`), so that observing a run
does not change how fast it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ff_algos.method import Classifier


class TrainObserver(Protocol):
    """Hooks a training loop calls: a phase per FF layer (one for backprop), a tick per epoch."""

    def phase_start(self, name: str, epochs: int) -> None:
        """A phase (for example ``"layer1"`` or ``"train"``) of ``epochs`` epochs begins."""

    def epoch_end(self, epoch: int) -> None:
        """Epoch ``epoch`` (0-based) of the current phase has been queued."""

    def phase_end(self) -> None:
        """The current phase has been queued in full."""


@runtime_checkable
class ModelObserver(Protocol):
    """An observer that also looks at the network trained so far (learning curves)."""

    def checkpoint(self, epoch: int, model: Callable[[], Classifier]) -> None:
        """Epoch ``epoch`` of the current phase has ended (after ``epoch_end``); ``model()``
        builds a classifier of the network trained so far. The observer may evaluate it (and
        synchronise the device to do so); it keeps that work out of the epochs' time."""


def offer_model(observer: TrainObserver, epoch: int, model: Callable[[], Classifier]) -> None:
    """Called by training loops after ``epoch_end``: hand the network trained so far to an
    observer that looks at models (observers without ``checkpoint`` are left alone)."""
    if isinstance(observer, ModelObserver):
        observer.checkpoint(epoch, model)


class NullObserver:
    """Observes nothing."""

    def phase_start(self, name: str, epochs: int) -> None:
        pass

    def epoch_end(self, epoch: int) -> None:
        pass

    def phase_end(self) -> None:
        pass


class FanOut:
    """Forwards every hook to several observers, in order."""

    def __init__(self, observers: Sequence[TrainObserver]) -> None:
        self._observers = tuple(observers)

    def phase_start(self, name: str, epochs: int) -> None:
        for o in self._observers:
            o.phase_start(name, epochs)

    def epoch_end(self, epoch: int) -> None:
        for o in self._observers:
            o.epoch_end(epoch)

    def phase_end(self) -> None:
        for o in self._observers:
            o.phase_end()

    def checkpoint(self, epoch: int, model: Callable[[], Classifier]) -> None:
        for o in self._observers:
            offer_model(o, epoch, model)

"""Device compute time per epoch of each training phase: a :class:`TrainObserver`.

On CUDA the clock records one ``torch.cuda.Event`` on the device's current stream at each phase
start and epoch end, without synchronising, and reads them once in :meth:`EpochClock.result`
(after one sync), so it measures time on the device rather than how fast the host queued work.
On other devices, which run synchronously, it stamps ``time.perf_counter``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ff_algos.telemetry.config import TelemetryError
from ff_algos.telemetry.sync import is_cuda, synchronize

CUDA_EVENT = "cuda_event"
PERF_COUNTER = "perf_counter"


@dataclass(frozen=True)
class EpochTimes:
    """Seconds per epoch of each phase, in the order phases ran, and their sum."""

    timer: str  # "cuda_event" or "perf_counter"
    per_epoch: dict[str, tuple[float, ...]]
    total: float


class _PerfMarks:
    """(start, end) stamps of each epoch; an epoch starts where the previous one ended unless
    :meth:`restart` moved its start (work between epochs left out)."""

    def __init__(self) -> None:
        self._starts: list[float] = []
        self._ends: list[float] = []

    def start(self) -> None:
        self._starts.append(time.perf_counter())

    def end(self) -> None:
        now = time.perf_counter()
        self._ends.append(now)
        self._starts.append(now)

    def restart(self) -> None:
        self._starts[-1] = time.perf_counter()

    def durations(self) -> tuple[float, ...]:
        return tuple(e - s for s, e in zip(self._starts, self._ends, strict=False))


class _EventMarks:
    """The same with CUDA events recorded on the device's current stream."""

    def __init__(self, device: torch.device) -> None:
        self._device = device
        self._starts: list[torch.cuda.Event] = []
        self._ends: list[torch.cuda.Event] = []

    def _event(self) -> torch.cuda.Event:
        event = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        event.record(torch.cuda.current_stream(self._device))
        return event

    def start(self) -> None:
        self._starts.append(self._event())

    def end(self) -> None:
        event = self._event()
        self._ends.append(event)
        self._starts.append(event)

    def restart(self) -> None:
        self._starts[-1] = self._event()

    def durations(self) -> tuple[float, ...]:
        # elapsed_time is in milliseconds
        pairs = zip(self._starts, self._ends, strict=False)
        return tuple(s.elapsed_time(e) / 1000.0 for s, e in pairs)


class EpochClock:
    """Times every epoch of every phase of one training run; use one clock per run."""

    def __init__(self, device: torch.device) -> None:
        self._device = device
        self._cuda = is_cuda(device)
        self._phases: dict[str, _PerfMarks | _EventMarks] = {}
        self._current: str | None = None

    @property
    def timer(self) -> str:
        """The timer this clock uses: "cuda_event" or "perf_counter"."""
        return CUDA_EVENT if self._cuda else PERF_COUNTER

    def phase_start(self, name: str, epochs: int) -> None:
        """Begin phase ``name``: the first mark, from which epoch 0 is timed."""
        if self._current is not None:
            raise TelemetryError(
                f"phase {name!r} started while {self._current!r} is open; call phase_end first"
            )
        if name in self._phases:
            raise TelemetryError(f"phase {name!r} already timed; use a new EpochClock per run")
        marks = _EventMarks(self._device) if self._cuda else _PerfMarks()
        self._phases[name] = marks
        self._current = name
        marks.start()

    def epoch_end(self, epoch: int) -> None:
        """Mark the end of an epoch of the open phase."""
        if self._current is None:
            raise TelemetryError(f"epoch_end({epoch}) outside a phase; call phase_start first")
        self._phases[self._current].end()

    def restart(self) -> None:
        """Time the next epoch from now: work queued since the last ``epoch_end`` (an
        evaluation for a learning curve) is left out of every epoch."""
        if self._current is not None:
            self._phases[self._current].restart()

    def elapsed(self) -> float:
        """Seconds of every epoch timed so far (synchronises the device: for checkpoints)."""
        synchronize(self._device)
        return sum(sum(marks.durations()) for marks in self._phases.values())

    def phase_end(self) -> None:
        """Close the open phase."""
        if self._current is None:
            raise TelemetryError("phase_end without phase_start")
        self._current = None

    def result(self) -> EpochTimes:
        """Synchronise the device once and read every epoch's duration."""
        if self._current is not None:
            raise TelemetryError(f"phase {self._current!r} is still open; call phase_end first")
        synchronize(self._device)
        per_epoch = {name: marks.durations() for name, marks in self._phases.items()}
        total = sum(sum(times) for times in per_epoch.values())
        return EpochTimes(timer=self.timer, per_epoch=per_epoch, total=total)

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
    def __init__(self) -> None:
        self._stamps: list[float] = []

    def mark(self) -> None:
        self._stamps.append(time.perf_counter())

    def durations(self) -> tuple[float, ...]:
        s = self._stamps
        return tuple(s[i + 1] - s[i] for i in range(len(s) - 1))


class _EventMarks:
    def __init__(self, device: torch.device) -> None:
        self._device = device
        self._events: list[torch.cuda.Event] = []

    def mark(self) -> None:
        event = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        event.record(torch.cuda.current_stream(self._device))
        self._events.append(event)

    def durations(self) -> tuple[float, ...]:
        e = self._events
        # elapsed_time is in milliseconds
        return tuple(e[i].elapsed_time(e[i + 1]) / 1000.0 for i in range(len(e) - 1))


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
        marks.mark()

    def epoch_end(self, epoch: int) -> None:
        """Mark the end of an epoch of the open phase."""
        if self._current is None:
            raise TelemetryError(f"epoch_end({epoch}) outside a phase; call phase_start first")
        self._phases[self._current].mark()

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

"""Learning curves: a :class:`~ff_algos.method.ModelObserver` that scores the network trained so
far on validation rows at set points of every training phase.

At a point (after the epoch clock marked the epoch's end) it synchronises the device, reads the
training compute so far from the clock and the energy counters, scores the model, and restarts
the clock, so evaluation is in neither the epochs' time nor the energy so far. Points per phase
``k``: the epochs ``ceil(E·j/k)`` for ``j = 1..k`` of a phase of ``E`` epochs (every ``E/k``
epochs; for greedy FF, ``k`` points per layer).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import torch

from ff_algos.data import Split
from ff_algos.method import Classifier
from ff_algos.record import Curve, CurvePoint
from ff_algos.telemetry.epoch_clock import EpochClock
from ff_algos.telemetry.nvml import NvmlGpu
from ff_algos.telemetry.rapl import Rapl
from ff_algos.telemetry.resolution import CounterStep, unreliable
from ff_algos.telemetry.sync import synchronize


def schedule(epochs: int, points: int) -> frozenset[int]:
    """The 0-based epochs after which a phase of ``epochs`` epochs is scored (``points`` of them,
    evenly spread, the last epoch always among them)."""
    if points < 1 or epochs < 1:
        return frozenset()
    return frozenset(math.ceil(epochs * j / points) - 1 for j in range(1, points + 1))


class _Energy:
    """Training energy so far from NVML's counter (GPU) or RAPL (CPU package), segments between
    :meth:`resume` and :meth:`pause` summed (the device synchronised by the caller).

    Each segment reads the counter twice, so its error is up to one counter step; the energy so
    far is None (``reason`` says why) until the segments average at least the counter's
    shortest measurable window (:mod:`ff_algos.telemetry.resolution`)."""

    def __init__(
        self, gpu: NvmlGpu | None, rapl: Rapl | None, step: CounterStep | None = None
    ) -> None:
        self.method = "nvml_energy_counter" if gpu is not None else "rapl" if rapl else None
        self._gpu, self._rapl, self._step = gpu, rapl, step
        self._mark: int | tuple[int, ...] | None = None
        self._since = 0.0
        self._seconds = 0.0
        self._segments = 0
        self.total = 0.0
        self.reason: str | None = None

    def _read(self) -> int | tuple[int, ...] | None:
        try:
            if self._gpu is not None:
                return self._gpu.energy_mj()
            if self._rapl is not None:
                return self._rapl.read()
        except Exception:
            self.method = None  # a counter that fails once is not trusted for the curve
        return None

    def resume(self) -> None:
        self._mark = self._read() if self.method else None
        self._since = time.perf_counter()

    def pause(self) -> float | None:
        before, now = self._mark, self._read() if self.method else None
        if before is None or now is None:
            return None
        self._seconds += time.perf_counter() - self._since
        self._segments += 1
        if isinstance(before, int) and isinstance(now, int):
            self.total += (now - before) / 1000.0
        elif self._rapl is not None and isinstance(before, tuple) and isinstance(now, tuple):
            self.total += self._rapl.energy(before, now).package_j or 0.0
        why = unreliable(self.total, self._seconds / self._segments, self._step)
        if why is not None:
            self.reason = (
                f"energy so far, {self._segments} segments between evaluations on average: {why}"
            )
            return None
        return self.total


class CurveObserver:
    """Scores ``model()`` on ``val`` at :func:`schedule`'s points of each phase (module doc)."""

    def __init__(
        self,
        clock: EpochClock,
        val: Split,
        points_per_phase: int,
        executed_by_phase: Mapping[str, int],
        model_flops: int,
        *,
        val_source: str,
        gpu: NvmlGpu | None = None,
        rapl: Rapl | None = None,
        energy_step: CounterStep | None = None,
    ) -> None:
        self._clock, self._val, self._k = clock, val, points_per_phase
        self._executed = dict(executed_by_phase)
        total = sum(self._executed.values())
        self._model_per_executed = model_flops / total if total else 0.0
        self._source = val_source
        self._energy = _Energy(gpu, rapl, energy_step)
        self._device = val.x.device
        self._phase: str | None = None
        self._epochs = 0
        self._due: frozenset[int] = frozenset()
        self._done_flops = 0  # executed FLOPs of the finished phases
        self._points: list[CurvePoint] = []
        self._eval_seconds = 0.0
        self._uncovered: list[str] = []  # phases whose last epoch was not a point

    def phase_start(self, name: str, epochs: int) -> None:
        self._phase, self._epochs = name, epochs
        self._due = schedule(epochs, self._k)
        synchronize(self._device)
        self._energy.resume()

    def epoch_end(self, epoch: int) -> None:
        pass

    def phase_end(self) -> None:
        if self._phase is not None:
            self._done_flops += self._executed.get(self._phase, 0)
            last = self._points[-1] if self._points else None
            if last is None or (last.phase, last.epoch) != (self._phase, self._epochs):
                self._uncovered.append(self._phase)
        self._phase = None

    def checkpoint(self, epoch: int, model: Callable[[], Classifier]) -> None:
        if self._phase is None or epoch not in self._due:
            return
        start = time.perf_counter()
        seconds = self._clock.elapsed()  # synchronises
        energy = self._energy.pause()
        phase_flops = self._executed.get(self._phase, 0) * (epoch + 1) // self._epochs
        executed = self._done_flops + phase_flops
        with torch.no_grad():
            correct = (model().predict(self._val.x) == self._val.y).sum()
        accuracy = int(correct.item()) / len(self._val)
        self._points.append(
            CurvePoint(
                phase=self._phase,
                epoch=epoch + 1,
                seconds=seconds,
                model_flops=round(executed * self._model_per_executed),
                executed_flops=executed,
                energy_j=energy,
                val_accuracy=accuracy,
            )
        )
        self._energy.resume()
        self._clock.restart()
        self._eval_seconds += time.perf_counter() - start

    def epochs_joules(self) -> tuple[float | None, str | None]:
        """The NVML energy of every epoch, evaluation excluded (the last point's energy so far),
        or None and why; ``(None, None)`` where the curve reads no NVML counter."""
        if self._energy.method != "nvml_energy_counter":
            return None, None
        if self._uncovered:
            return None, f"phases {self._uncovered} did not end with a curve point"
        last = self._points[-1].energy_j if self._points else None
        return last, None if last is not None else (self._energy.reason or "not measured")

    def result(self) -> Curve:
        """The curve measured so far."""
        return Curve(
            val_rows=len(self._val),
            val_source=self._source,
            points_per_phase=self._k,
            eval_seconds=self._eval_seconds,
            energy_method=self._energy.method,
            points=tuple(self._points),
            energy_reason=self._energy.reason,
        )

"""Energy per training phase (FF layers, a head, fine-tuning): a :class:`TrainObserver` that reads
the GPU's NVML energy counter and the CPU's RAPL counters at each phase's start and end.

Unlike other observers it synchronises the device, but only at phase boundaries (a handful per
run, never per epoch), so that each phase's counters bracket its own work; the cost is one wait
per boundary, which the per-epoch compute clock does not see.

A phase too short for a counter (:func:`~ff_algos.telemetry.resolution.unreliable`) gets None
for that counter, and :attr:`PhaseEnergy.unavailable` says why under the record's dotted name
(``energy.by_phase.layer1.gpu_j``); a counter that failed to read is named there too.
"""

from __future__ import annotations

import time

import torch

from ff_algos.record import PhaseJoules
from ff_algos.telemetry.nvml import NvmlGpu, describe
from ff_algos.telemetry.rapl import Rapl
from ff_algos.telemetry.resolution import CounterStep, unreliable
from ff_algos.telemetry.sync import synchronize


class PhaseEnergy:
    """Observer: energy per phase from NVML's energy counter and RAPL (see the module doc)."""

    def __init__(
        self,
        device: torch.device,
        gpu: NvmlGpu | None,
        rapl: Rapl | None,
        *,
        gpu_step: CounterStep | None = None,
        cpu_step: CounterStep | None = None,
    ) -> None:
        self._device, self._gpu, self._rapl = device, gpu, rapl
        self._gpu_step, self._cpu_step = gpu_step, cpu_step
        self._open: tuple[str, float, int | None, tuple[int, ...] | None] | None = None
        self.phases: dict[str, PhaseJoules] = {}
        self.reasons: list[str] = []
        self.unavailable: dict[str, str] = {}  # energy.by_phase.<phase>.<counter> -> why None

    def _read(self) -> tuple[int | None, tuple[int, ...] | None]:
        synchronize(self._device)
        gpu = cpu = None
        if self._gpu is not None:
            try:
                gpu = self._gpu.energy_mj()
            except Exception as e:
                self.reasons.append(f"NVML energy counter: {describe(e)}")
        if self._rapl is not None:
            try:
                cpu = self._rapl.read()
            except (OSError, ValueError) as e:
                self.reasons.append(f"RAPL: {describe(e)}")
        return gpu, cpu

    def phase_start(self, name: str, epochs: int) -> None:
        gpu, cpu = self._read()
        self._open = (name, time.perf_counter(), gpu, cpu)

    def epoch_end(self, epoch: int) -> None:
        pass

    def phase_end(self) -> None:
        if self._open is None:
            return
        name, t0, gpu0, cpu0 = self._open
        gpu1, cpu1 = self._read()
        seconds = time.perf_counter() - t0
        gpu_j = (gpu1 - gpu0) / 1000.0 if gpu0 is not None and gpu1 is not None else None
        package = dram = None
        if self._rapl is not None and cpu0 is not None and cpu1 is not None:
            energy = self._rapl.energy(cpu0, cpu1)
            package, dram = energy.package_j, energy.dram_j
        values = {"gpu_j": gpu_j, "cpu_package_j": package, "cpu_dram_j": dram}
        for key, joules in values.items():
            step = self._gpu_step if key == "gpu_j" else self._cpu_step
            counter = self._gpu is not None if key == "gpu_j" else self._rapl is not None
            why = None
            if joules is not None:
                why = unreliable(joules, seconds, step)
            elif counter and self.reasons:
                why = self.reasons[-1]
            if why is not None:
                values[key] = None
                self.unavailable[f"energy.by_phase.{name}.{key}"] = why
        self.phases[name] = PhaseJoules(**values, seconds=seconds)
        self._open = None

"""One measurement window: synced wall time, memory peaks, power and energy around a phase.

Opening a window synchronises the device, resets the memory peaks, reads the NVML energy
counter and the CPU's RAPL counters and starts the power sampler; closing it (also on an
exception) synchronises again, reads the clock and the counters, stops the sampler and collects
the peaks. Each value that cannot be measured is None with a one-line reason under
``unavailable``; a value measured with a caveat (a peak that could not be reset, NVML read
errors, an integral instead of the counter, averaged rather than instantaneous power, an
uncertain GPU match) has the caveat under ``notes``. Keys of both are :class:`WindowResult`
field names.

Energies of windows too short for their counter (:mod:`ff_algos.telemetry.resolution`: under
five counter updates, or a counter that did not move) are None with that reason, never 0 J or
one whole counter step; ``gpu_step`` and ``cpu_step`` are the counters' measured resolutions
(None: not measured, then only a counter that did not move is refused).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from types import TracebackType

import torch

from ff_algos.data.files import describe
from ff_algos.telemetry.config import TelemetryError
from ff_algos.telemetry.energy import COUNTER, INTEGRAL, counter_joules, trapezoid_joules
from ff_algos.telemetry.nvml import NvmlGpu, is_not_supported
from ff_algos.telemetry.peaks import PeakReading, PeakToken, PeakTracker
from ff_algos.telemetry.rapl import RAPL, Rapl
from ff_algos.telemetry.resolution import CounterStep, sampled_step, unreliable
from ff_algos.telemetry.sampler import PowerSampler, PowerTrace
from ff_algos.telemetry.sync import synchronize

NVML_FIELDS = (
    "nvml_match",
    "nvml_used_peak_bytes",
    "power_method",
    "power_mean_w",
    "power_max_w",
    "energy_j",
    "energy_method",
)
RAPL_FIELDS = ("cpu_energy_method", "cpu_package_j", "cpu_dram_j")


@dataclass(frozen=True)
class WindowResult:
    """Everything measured over one window."""

    name: str
    seconds: float  # wall time, device synchronised at both ends
    torch_peak_bytes: int | None  # torch CUDA allocator peak since the window opened
    host_peak_rss_bytes: int | None
    host_peak_rss_reset: bool  # False: the host peak covers the process so far, not the window
    nvml_match: str | None  # how the NVML device was matched (NvmlGpu.found_by)
    nvml_used_peak_bytes: int | None  # device memory used by all processes, sampled peak
    power_method: str | None  # "nvml_power_instant" or "nvml_power_average" when sampled
    power_mean_w: float | None  # arithmetic mean of the power samples
    power_max_w: float | None
    power_samples: int
    energy_j: float | None
    energy_method: str | None  # "nvml_energy_counter" or "nvml_power_integral"
    cpu_energy_method: str | None  # "rapl" when the CPU's RAPL counters were read
    cpu_package_j: float | None  # CPU package energy, summed over sockets
    cpu_dram_j: float | None  # DRAM energy, summed over sockets
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    trace: PowerTrace | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _CpuEnergy:
    method: str | None
    package_j: float | None
    dram_j: float | None


class Window:
    """A context manager measuring its body; read :attr:`result` after the ``with`` block."""

    def __init__(
        self,
        name: str,
        device: torch.device,
        tracker: PeakTracker,
        gpu: NvmlGpu | None,
        gpu_reason: str | None,
        sample_hz: float,
        *,
        rapl: Rapl | None = None,
        rapl_reason: str | None = None,
        gpu_step: CounterStep | None = None,
        cpu_step: CounterStep | None = None,
    ) -> None:
        self.name = name
        self._gpu_step, self._cpu_step = gpu_step, cpu_step
        self._device = device
        self._tracker = tracker
        self._gpu = gpu
        self._gpu_reason = gpu_reason or "no NVML device"
        self._sample_hz = sample_hz
        self._rapl = rapl
        self._rapl_reason = rapl_reason or "RAPL not read"
        self._entered = False
        self._token: PeakToken | None = None
        self._sampler: PowerSampler | None = None
        self._energy_start_mj: int | None = None
        self._counter_reason: str | None = None
        self._rapl_start: tuple[int, ...] | None = None
        self._t0 = 0.0
        self._seconds = 0.0
        self._result: WindowResult | None = None

    @property
    def result(self) -> WindowResult:
        """The measurements; available once the ``with`` block has exited."""
        if self._result is None:
            raise TelemetryError(f"window {self.name!r} has no result until its with-block exits")
        return self._result

    def __enter__(self) -> Window:
        if self._entered:
            raise TelemetryError(f"window {self.name!r} was already used; open a new window")
        self._entered = True
        synchronize(self._device)
        self._token = self._tracker.begin()
        try:
            if self._gpu is not None:
                self._energy_start_mj = self._read_energy("start")
                self._sampler = PowerSampler(
                    self._gpu.power_w, self._gpu.used_bytes, hz=self._sample_hz
                )
                self._sampler.start()
            self._rapl_start = self._read_rapl("start")
        except BaseException:
            if self._sampler is not None:
                self._sampler.stop()
            self._tracker.end(self._token)
            raise
        self._t0 = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._token is not None, "__exit__ without __enter__"
        try:
            try:
                synchronize(self._device)
            except Exception:
                if exc is None:
                    raise
                # the body already failed (likely the same device error); let that one surface
            seconds = time.perf_counter() - self._t0
            rapl_end = self._read_rapl("end") if self._rapl_start is not None else None
            energy_end_mj = None
            if self._energy_start_mj is not None:
                energy_end_mj = self._read_energy("end")
        finally:
            trace = self._sampler.stop() if self._sampler is not None else None
            peaks = self._tracker.end(self._token)
        self._result = self._build(seconds, energy_end_mj, rapl_end, trace, peaks)

    def _read_energy(self, when: str) -> int | None:
        assert self._gpu is not None
        try:
            return self._gpu.energy_mj()
        except Exception as e:
            if is_not_supported(self._gpu.nvml, e):
                self._counter_reason = f"NVML energy counter not supported ({describe(e)})"
            else:
                self._counter_reason = f"NVML energy counter failed at {when} ({describe(e)})"
            return None

    def _read_rapl(self, when: str) -> tuple[int, ...] | None:
        if self._rapl is None:
            return None
        try:
            return self._rapl.read()
        except (OSError, ValueError) as e:
            self._rapl_reason = f"RAPL read failed at {when} ({describe(e)})"
            return None

    def _cpu_energy(
        self, rapl_end: tuple[int, ...] | None, unavailable: dict[str, str]
    ) -> _CpuEnergy:
        if self._rapl is not None and self._rapl_start is not None and rapl_end is not None:
            try:
                energy = self._rapl.energy(self._rapl_start, rapl_end)
            except TelemetryError as e:
                self._rapl_reason = str(e)
            else:
                package, dram = energy.package_j, energy.dram_j
                if energy.package_reason is not None:
                    unavailable["cpu_package_j"] = energy.package_reason
                elif package is not None and (why := self._short(package, self._cpu_step)):
                    unavailable["cpu_package_j"], package = why, None
                if energy.dram_reason is not None:
                    unavailable["cpu_dram_j"] = energy.dram_reason
                elif dram is not None and (why := self._short(dram, self._cpu_step)):
                    unavailable["cpu_dram_j"], dram = why, None
                return _CpuEnergy(RAPL, package, dram)
        unavailable.update(dict.fromkeys(RAPL_FIELDS, self._rapl_reason))
        return _CpuEnergy(None, None, None)

    def _short(self, joules: float, step: CounterStep | None) -> str | None:
        return unreliable(joules, self._seconds, step)

    def _build(
        self,
        seconds: float,
        energy_end_mj: int | None,
        rapl_end: tuple[int, ...] | None,
        trace: PowerTrace | None,
        peaks: PeakReading,
    ) -> WindowResult:
        unavailable: dict[str, str] = {}
        notes: dict[str, str] = {}
        self._seconds = seconds
        if peaks.torch_peak_bytes is None:
            unavailable["torch_peak_bytes"] = peaks.torch_reason or "not measured"
        if peaks.host_peak_rss_bytes is None:
            unavailable["host_peak_rss_bytes"] = peaks.host_source
        elif peaks.host_reset_reason is not None:
            notes["host_peak_rss_bytes"] = (
                f"{peaks.host_reset_reason}; "
                f"the peak ({peaks.host_source}) covers the process so far"
            )
        cpu = self._cpu_energy(rapl_end, unavailable)
        without_gpu = WindowResult(
            name=self.name,
            seconds=seconds,
            torch_peak_bytes=peaks.torch_peak_bytes,
            host_peak_rss_bytes=peaks.host_peak_rss_bytes,
            host_peak_rss_reset=peaks.host_reset_reason is None,
            nvml_match=None,
            nvml_used_peak_bytes=None,
            power_method=None,
            power_mean_w=None,
            power_max_w=None,
            power_samples=0,
            energy_j=None,
            energy_method=None,
            cpu_energy_method=cpu.method,
            cpu_package_j=cpu.package_j,
            cpu_dram_j=cpu.dram_j,
            unavailable=unavailable,
            notes=notes,
        )
        if trace is None or self._gpu is None:
            unavailable.update(dict.fromkeys(NVML_FIELDS, self._gpu_reason))
            return without_gpu

        gpu = self._gpu
        if gpu.match_note is not None:
            notes["nvml_match"] = gpu.match_note
        problems = []
        if trace.errors:
            problems.append(f"{trace.errors} NVML read errors, first: {trace.first_error}")
        if not trace.joined:
            problems.append("the sampler thread did not stop in time; samples may be cut short")
        if problems:
            notes["power_samples"] = "; ".join(problems)
        why_not = trace.first_error or "NVML returned no samples"

        used_peak = max(trace.used_bytes) if trace.used_bytes else None
        if used_peak is None:
            unavailable["nvml_used_peak_bytes"] = f"no memory samples ({why_not})"
        watts = trace.power_w
        if not watts:
            for key in ("power_method", "power_mean_w", "power_max_w"):
                unavailable[key] = f"no power samples ({why_not})"
        elif gpu.power_note is not None:
            notes["power_method"] = gpu.power_note

        energy, method = self._energy(energy_end_mj, trace, notes, unavailable)
        return dataclasses.replace(
            without_gpu,
            nvml_match=gpu.found_by,
            nvml_used_peak_bytes=used_peak,
            power_method=gpu.power_method if watts else None,
            power_mean_w=sum(watts) / len(watts) if watts else None,
            power_max_w=max(watts) if watts else None,
            power_samples=len(watts),
            energy_j=energy,
            energy_method=method,
            trace=trace,
        )

    def _energy(
        self,
        energy_end_mj: int | None,
        trace: PowerTrace,
        notes: dict[str, str],
        unavailable: dict[str, str],
    ) -> tuple[float | None, str | None]:
        if self._energy_start_mj is not None and energy_end_mj is not None:
            try:
                joules = counter_joules(self._energy_start_mj, energy_end_mj)
            except TelemetryError as e:
                self._counter_reason = str(e)
            else:
                why = self._short(joules, self._gpu_step)
                if why is None:
                    return joules, COUNTER
                unavailable["energy_j"] = why
                return None, COUNTER
        integral = trapezoid_joules(trace.times_s, trace.power_w)
        counter_reason = self._counter_reason or "NVML energy counter not read"
        if integral is None:
            reason = f"{counter_reason}, and fewer than 2 power samples to integrate"
            unavailable["energy_j"] = unavailable["energy_method"] = reason
            return None, None
        notes["energy_method"] = f"{counter_reason}; integrated the sampled power instead"
        why = self._short(integral, sampled_step(INTEGRAL, self._sample_hz))
        if why is not None:
            unavailable["energy_j"] = why
            return None, INTEGRAL
        return integral, INTEGRAL

"""The telemetry session: one per benchmark process, owning the NVML handle and the peak cache."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType, TracebackType

import torch

from ff_algos.telemetry.config import TelemetryConfig, TelemetryError
from ff_algos.telemetry.epoch_clock import EpochClock
from ff_algos.telemetry.nvml import NvmlGpu, find_cuda_gpu, load_nvml, open_gpu, release_nvml
from ff_algos.telemetry.peak_flops import PeakResult, dtype_name, measure_peak_flops
from ff_algos.telemetry.peaks import PeakTracker
from ff_algos.telemetry.rapl import Rapl, open_rapl
from ff_algos.telemetry.resolution import CounterStep, measure_step
from ff_algos.telemetry.sync import is_cuda, resolve
from ff_algos.telemetry.window import Window


@dataclass(frozen=True)
class CounterSteps:
    """The measured resolution of the session's energy counters (None: no such counter)."""

    gpu: CounterStep | None
    cpu: CounterStep | None
    notes: tuple[str, ...] = ()


def _package_j(rapl: Rapl) -> float:
    """RAPL's package counters summed, in joules (wraps show as a drop, which
    :func:`measure_step` ignores)."""
    raw = rapl.read()
    return sum(v for zone, v in zip(rapl.zones, raw, strict=True) if zone.kind == "package") / 1e6


class TelemetrySession:
    """Measures windows, epoch clocks and peak FLOP/s on one device.

    NVML is initialised on the first window that needs it and shut down by :meth:`close` (or the
    ``with`` form); the CPU's RAPL counters are found on the first window. The session is not
    thread-safe; windows may nest but must close in order.
    """

    def __init__(self, device: torch.device | str, config: TelemetryConfig | None = None) -> None:
        self.device = torch.device(device)
        self.config = config or TelemetryConfig()
        self._resolved: torch.device | None = None
        self._tracker: PeakTracker | None = None
        self._nvml: ModuleType | None = None
        self._gpu: NvmlGpu | None = None
        self._gpu_reason: str | None = None
        self._gpu_probed = False
        self._rapl: Rapl | None = None
        self._rapl_reason: str | None = None
        self._rapl_probed = False
        self._peaks: dict[tuple[str, str, str], PeakResult] = {}
        self._steps: CounterSteps | None = None
        self._closed = False

    def window(self, name: str) -> Window:
        """A measurement window named ``name`` (use it as a context manager)."""
        self._check_open()
        device = self._device()
        if self._tracker is None:
            self._tracker = PeakTracker(device)
        gpu, reason = self.nvml_gpu()
        rapl, rapl_reason = self.rapl()
        steps = self._steps or CounterSteps(None, None)
        return Window(
            name,
            device,
            self._tracker,
            gpu,
            reason,
            self.config.sample_hz,
            rapl=rapl,
            rapl_reason=rapl_reason,
            gpu_step=steps.gpu,
            cpu_step=steps.cpu,
        )

    def counter_steps(self) -> CounterSteps:
        """The NVML energy counter's and RAPL's time resolution, each probed once per session
        (about half a second each, :func:`~ff_algos.telemetry.resolution.measure_step`), untimed,
        before the first case, as the suite does. Windows opened before it refuse only the
        energy of a counter that did not move; after it, that of windows too short for it."""
        self._check_open()
        if self._steps is None:
            gpu, _ = self.nvml_gpu()
            rapl, _ = self.rapl()
            gpu_step = cpu_step = None
            notes: list[str] = []
            if gpu is not None:
                try:
                    gpu_step = measure_step("nvml_energy_counter", lambda: gpu.energy_mj() / 1e3)
                except Exception as e:  # no counter on this GPU: windows integrate power
                    notes.append(f"NVML energy counter not probed ({type(e).__name__}: {e})")
            if rapl is not None:
                try:
                    cpu_step = measure_step("rapl", lambda: _package_j(rapl))
                except (OSError, ValueError) as e:
                    notes.append(f"RAPL not probed ({type(e).__name__}: {e})")
            self._steps = CounterSteps(gpu_step, cpu_step, tuple(notes))
        return self._steps

    def epoch_clock(self) -> EpochClock:
        """A fresh per-epoch compute clock for one training run on this device."""
        self._check_open()
        return EpochClock(self._device())

    def peak_flops(self, dtype: torch.dtype = torch.float32) -> PeakResult:
        """The device's measured matmul peak for ``dtype``, measured once and then cached.

        The cache key includes the float32 matmul precision, which changes the peak on GPUs.
        """
        self._check_open()
        device = self._device()
        key = (str(device), dtype_name(dtype), torch.get_float32_matmul_precision())
        if key not in self._peaks:
            self._peaks[key] = measure_peak_flops(device, dtype)
        return self._peaks[key]

    def nvml_gpu(self) -> tuple[NvmlGpu | None, str | None]:
        """The NVML device sampled for power and memory: ``(gpu, None)`` or ``(None, reason)``."""
        self._check_open()
        if not self._gpu_probed:
            self._gpu_probed = True
            self._gpu, self._gpu_reason = self._open_gpu()
        return self._gpu, self._gpu_reason

    def rapl(self) -> tuple[Rapl | None, str | None]:
        """The CPU's RAPL energy counters: ``(rapl, None)`` or ``(None, reason)``."""
        self._check_open()
        if not self._rapl_probed:
            self._rapl_probed = True
            self._rapl, self._rapl_reason = open_rapl(self.config.rapl_root)
        return self._rapl, self._rapl_reason

    def close(self) -> None:
        """Release NVML; the session cannot measure afterwards."""
        if self._nvml is not None:
            release_nvml(self._nvml)
            self._nvml = None
        self._gpu = None
        self._closed = True

    def __enter__(self) -> TelemetrySession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise TelemetryError("this TelemetrySession is closed; create a new one")

    def _device(self) -> torch.device:
        if self._resolved is None:
            self._resolved = resolve(self.device)
        return self._resolved

    def _open_gpu(self) -> tuple[NvmlGpu | None, str | None]:
        device = self._device()
        index = self.config.nvml_index
        if index is None and not is_cuda(device):
            return None, (
                f"device is {device.type}; NVML power and memory describe a GPU "
                "(set TelemetryConfig.nvml_index to sample one anyway)"
            )
        nvml, reason = load_nvml()
        if nvml is None:
            return None, reason
        self._nvml = nvml
        if index is not None:
            return open_gpu(nvml, index=index, index_found_by="configured_index")
        return find_cuda_gpu(nvml, device)

"""Telemetry configuration (a frozen dataclass) and the telemetry error type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ff_algos.errors import FFBenchError

MIN_SAMPLE_HZ = 10.0
MAX_SAMPLE_HZ = 1000.0
POWERCAP_ROOT = Path("/sys/class/powercap")  # where Linux exposes RAPL energy counters


class TelemetryError(FFBenchError, ValueError):
    """A telemetry object used out of order or configured with an impossible value."""


@dataclass(frozen=True)
class TelemetryConfig:
    """How a :class:`~ff_algos.telemetry.session.TelemetrySession` measures.

    ``sample_hz`` is the NVML sampler rate (10 to 1000 Hz). ``nvml_index`` picks the NVML device
    to sample; ``None`` means the session's own GPU when its device is CUDA and no NVML sampling
    on a CPU device (set it to watch a GPU while the work runs on the CPU). ``rapl_root`` is the
    powercap sysfs directory holding the CPU's RAPL energy counters (a fake tree in tests).
    """

    sample_hz: float = 20.0
    nvml_index: int | None = None
    rapl_root: Path = POWERCAP_ROOT

    def __post_init__(self) -> None:
        if not MIN_SAMPLE_HZ <= self.sample_hz <= MAX_SAMPLE_HZ:
            raise TelemetryError(
                f"sample_hz={self.sample_hz} is out of range; "
                f"choose {MIN_SAMPLE_HZ:g} to {MAX_SAMPLE_HZ:g} samples per second"
            )
        if self.nvml_index is not None and self.nvml_index < 0:
            raise TelemetryError(
                f"nvml_index={self.nvml_index} is negative; use a device index from nvidia-smi"
            )

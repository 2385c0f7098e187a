"""Energy from power: the NVML counter delta, or the trapezoid integral of sampled power."""

from __future__ import annotations

from collections.abc import Sequence

from ff_algos.telemetry.config import TelemetryError

COUNTER = "nvml_energy_counter"
INTEGRAL = "nvml_power_integral"


def counter_joules(start_mj: int, end_mj: int) -> float:
    """Joules between two reads of NVML's total-energy counter (millijoules)."""
    if end_mj < start_mj:
        raise TelemetryError(f"energy counter went backwards ({start_mj} -> {end_mj} mJ)")
    return (end_mj - start_mj) / 1000.0


def trapezoid_joules(times_s: Sequence[float], power_w: Sequence[float]) -> float | None:
    """The trapezoid-rule integral of power over time in joules (None with fewer than 2 samples)."""
    if len(times_s) != len(power_w):
        raise TelemetryError(f"{len(times_s)} sample times but {len(power_w)} power readings")
    if len(times_s) < 2:
        return None
    total = 0.0
    for i in range(1, len(times_s)):
        total += (times_s[i] - times_s[i - 1]) * (power_w[i] + power_w[i - 1]) / 2.0
    return total

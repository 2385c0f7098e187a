"""Achieved FLOP/s of a run and its utilisation of the measured peak."""

from __future__ import annotations

from dataclasses import dataclass

from ff_algos.telemetry.config import TelemetryError
from ff_algos.telemetry.peak_flops import PeakResult


@dataclass(frozen=True)
class FlopRate:
    """``flops`` analytic FLOPs done in ``seconds``; utilisation is None without a peak."""

    flops: int
    seconds: float
    per_s: float
    peak_per_s: float | None
    utilisation: float | None


def flop_rate(flops: int, seconds: float, peak: PeakResult | None) -> FlopRate:
    """Achieved rate of ``flops`` over ``seconds``, and its fraction of ``peak``."""
    if seconds <= 0:
        raise TelemetryError(f"cannot compute FLOP/s over {seconds} s; time a non-empty run")
    per_s = flops / seconds
    peak_per_s = None if peak is None else peak.flops_per_s
    utilisation = None if not peak_per_s else per_s / peak_per_s
    return FlopRate(flops, seconds, per_s, peak_per_s, utilisation)

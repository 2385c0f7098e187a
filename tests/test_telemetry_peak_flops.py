"""Measured peak FLOP/s: positive and finite on this CPU, cached per session, and consistent
with a plain timed matmul; the achieved-rate arithmetic."""

from __future__ import annotations

import math
import time

import pytest
import torch

import ff_algos.telemetry.session as session_module
from ff_algos.telemetry import (
    PeakResult,
    TelemetryError,
    TelemetrySession,
    flop_rate,
    measure_peak_flops,
)

CPU = torch.device("cpu")


def test_session_peak_is_positive_finite_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[torch.dtype] = []

    def counting(device: torch.device, dtype: torch.dtype = torch.float32) -> PeakResult:
        calls.append(dtype)
        return measure_peak_flops(device, dtype)

    monkeypatch.setattr(session_module, "measure_peak_flops", counting)
    session = TelemetrySession(CPU)
    peak = session.peak_flops()
    assert math.isfinite(peak.flops_per_s)
    assert peak.flops_per_s > 0
    assert peak.dtype == "float32"
    assert peak.device == "cpu"
    assert peak.size in (256, 512, 1024)
    assert 0 < peak.seconds_measured < 10
    assert session.peak_flops(torch.float32) is peak
    assert calls == [torch.float32]

    # the best rate is at least about what one plain timed matmul of the winning size reaches
    n = peak.size
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    t0 = time.perf_counter()
    torch.matmul(a, b)
    single = 2 * n**3 / (time.perf_counter() - t0)
    assert peak.flops_per_s >= 0.5 * single


def test_cache_is_per_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[torch.dtype] = []

    def small(device: torch.device, dtype: torch.dtype = torch.float32) -> PeakResult:
        calls.append(dtype)
        return measure_peak_flops(device, dtype, sizes=(64,), budget_s=0.02)

    monkeypatch.setattr(session_module, "measure_peak_flops", small)
    session = TelemetrySession(CPU)
    p32 = session.peak_flops(torch.float32)
    p64 = session.peak_flops(torch.float64)
    assert session.peak_flops(torch.float64) is p64
    assert (p32.dtype, p64.dtype) == ("float32", "float64")
    assert calls == [torch.float32, torch.float64]


def test_measure_rejects_non_float_dtype() -> None:
    with pytest.raises(TelemetryError, match="floating-point"):
        measure_peak_flops(CPU, torch.int32)


def test_flop_rate_and_utilisation() -> None:
    peak = measure_peak_flops(CPU, sizes=(64,), budget_s=0.02)
    rate = flop_rate(10**9, 0.5, peak)
    assert rate.per_s == 2e9
    assert rate.utilisation == pytest.approx(2e9 / peak.flops_per_s)
    assert flop_rate(10, 1.0, None).utilisation is None
    with pytest.raises(TelemetryError, match="non-empty"):
        flop_rate(10, 0.0, None)

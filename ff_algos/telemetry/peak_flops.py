"""Peak matrix-product throughput of a device, measured rather than looked up.

Utilisation is reported against what this device actually reaches on a square matmul of the
same dtype (and, for float32, the same ``torch.get_float32_matmul_precision`` setting, which
decides whether TF32 tensor cores run). Each size is warmed up, then timed in trials with the
device synchronised before and after; the best trial wins. A time budget keeps the CPU
measurement to about 1.5 s.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from ff_algos.telemetry.config import TelemetryError
from ff_algos.telemetry.sync import is_cuda, synchronize
from ff_algos.telemetry.torch_memory import release_cached_memory

CPU_SIZES = (256, 512, 1024)
CUDA_SIZES = (2048, 4096, 8192)
CPU_BUDGET_S = 1.5
CUDA_BUDGET_S = 3.0
TRIAL_TARGET_S = 0.02  # matmuls per trial are chosen so one trial lasts about this long
WARMUP = 2
MIN_TRIALS = 3


@dataclass(frozen=True)
class PeakResult:
    """The best measured matmul rate on ``device`` for ``dtype``."""

    flops_per_s: float
    dtype: str  # e.g. "float32"
    seconds_measured: float  # wall time the whole measurement took, warm-up included
    device: str
    size: int  # side of the square matrices of the best trial
    matmul_precision: str  # torch.get_float32_matmul_precision() while measuring
    threads: int  # torch.get_num_threads() while measuring (what CPU matmuls use)


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def _best_rate(device: torch.device, dtype: torch.dtype, n: int, budget_s: float) -> float:
    generator = torch.Generator(device=device).manual_seed(n)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
    out = torch.empty(n, n, device=device, dtype=dtype)
    flops_per_matmul = 2 * n**3
    synchronize(device)
    start = time.perf_counter()
    for _ in range(WARMUP):
        torch.matmul(a, b, out=out)
    synchronize(device)
    single_s = max((time.perf_counter() - start) / WARMUP, 1e-9)
    per_trial = min(max(1, math.ceil(TRIAL_TARGET_S / single_s)), 1000)
    deadline = time.perf_counter() + budget_s
    best = 0.0
    trials = 0
    while trials < MIN_TRIALS or time.perf_counter() < deadline:
        synchronize(device)
        t0 = time.perf_counter()
        for _ in range(per_trial):
            torch.matmul(a, b, out=out)
        synchronize(device)
        elapsed = time.perf_counter() - t0
        if elapsed > 0:
            best = max(best, flops_per_matmul * per_trial / elapsed)
        trials += 1
    return best


def measure_peak_flops(
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    *,
    sizes: tuple[int, ...] | None = None,
    budget_s: float | None = None,
) -> PeakResult:
    """Measure the best square-matmul FLOP/s of ``device`` in ``dtype`` (no caching here)."""
    if not dtype.is_floating_point:
        raise TelemetryError(f"peak FLOP/s needs a floating-point dtype, got {dtype_name(dtype)}")
    cuda = is_cuda(device)
    sizes = sizes or (CUDA_SIZES if cuda else CPU_SIZES)
    if budget_s is None:
        budget_s = CUDA_BUDGET_S if cuda else CPU_BUDGET_S
    if budget_s <= 0 or min(sizes) <= 0:
        raise TelemetryError(f"peak FLOP/s needs positive sizes and budget ({sizes}, {budget_s} s)")
    started = time.perf_counter()
    rates = {n: _best_rate(device, dtype, n, budget_s / len(sizes)) for n in sizes}
    size = max(rates, key=lambda n: rates[n])
    if cuda:  # give the measurement's matrices back, on this device, before benchmarks run
        release_cached_memory(device)
    return PeakResult(
        flops_per_s=rates[size],
        dtype=dtype_name(dtype),
        seconds_measured=time.perf_counter() - started,
        device=str(device),
        size=size,
        matmul_precision=torch.get_float32_matmul_precision(),
        threads=torch.get_num_threads(),
    )

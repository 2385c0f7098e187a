"""NVML paths (sampler, energy, memory, GPU lookup) against a fake ``pynvml`` module.

The fake is injected through ``sys.modules``; its readings are scripted, so every expected
number below is computed by hand or from the trace the window recorded.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import torch

from ff_algos.telemetry import (
    COUNTER,
    INTEGRAL,
    POWER_METHOD,
    TelemetryConfig,
    TelemetrySession,
    probe_gpus,
)
from ff_algos.telemetry.sampler import THREAD_NAME

GIB = 1 << 30


class FakeNVMLError(Exception):
    pass


class FakeNotSupportedError(FakeNVMLError):
    pass


@dataclass
class Script:
    """What the fake NVML returns, and what it saw."""

    power_mw: list[int] = field(default_factory=lambda: [100_000, 200_000, 300_000])
    used: list[int] = field(default_factory=lambda: [1 * GIB, 3 * GIB, 2 * GIB])
    energy_mj: list[int] | None = field(default_factory=lambda: [1_000_000, 1_250_000])
    init_error: Exception | None = None
    power_fails_after: int | None = None  # raise on every power read after this many
    inits: int = 0
    shutdowns: int = 0
    power_reads: int = 0
    handles_by: list[str] = field(default_factory=list)


def fake_pynvml(script: Script) -> types.ModuleType:
    power: Iterator[int] = itertools.cycle(script.power_mw)
    used: Iterator[int] = itertools.cycle(script.used)
    energy = iter(script.energy_mj or [])
    module = types.ModuleType("pynvml")

    def init() -> None:
        if script.init_error is not None:
            raise script.init_error
        script.inits += 1

    def shutdown() -> None:
        script.shutdowns += 1

    def by_index(i: int) -> str:
        script.handles_by.append("index")
        if i != 0:
            raise FakeNVMLError("Invalid Argument")
        return "handle0"

    def get_power(handle: str) -> int:
        assert handle == "handle0"
        script.power_reads += 1
        fails_after = script.power_fails_after
        if fails_after is not None and script.power_reads > fails_after:
            raise FakeNVMLError("GPU is lost")
        return next(power)

    def get_energy(handle: str) -> int:
        if script.energy_mj is None:
            raise FakeNotSupportedError("Not Supported")
        return next(energy)

    module.NVMLError = FakeNVMLError  # type: ignore[attr-defined]
    module.NVMLError_NotSupported = FakeNotSupportedError  # type: ignore[attr-defined]
    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlShutdown = shutdown  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = by_index  # type: ignore[attr-defined]
    module.nvmlDeviceGetPowerUsage = get_power  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=next(used))  # type: ignore[attr-defined]
    module.nvmlDeviceGetTotalEnergyConsumption = get_energy  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: 1  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda h: b"Fake GPU 80GB"  # type: ignore[attr-defined]
    module.nvmlSystemGetDriverVersion = lambda: "555.42.06"  # type: ignore[attr-defined]
    module.nvmlSystemGetCudaDriverVersion = lambda: 12050  # type: ignore[attr-defined]
    return module


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Script:
    s = Script()
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(s))
    return s


def _session() -> TelemetrySession:
    # work runs on the CPU; the fake GPU 0 is sampled as if it were the benchmark's GPU
    return TelemetrySession("cpu", TelemetryConfig(sample_hz=20.0, nvml_index=0))


def _no_sampler_threads() -> bool:
    return not [t for t in threading.enumerate() if t.name == THREAD_NAME]


def _hand_trapezoid(times: tuple[float, ...], watts: tuple[float, ...]) -> float:
    area = 0.0
    for (t0, p0), (t1, p1) in itertools.pairwise(zip(times, watts, strict=True)):
        area += (t1 - t0) * (p0 + p1) / 2
    return area


def test_counter_present_energy_is_delta(script: Script) -> None:
    with _session() as session, session.window("train") as w:
        time.sleep(0.3)
    r = w.result
    assert r.energy_method == COUNTER
    assert r.energy_j == pytest.approx(250.0)  # (1_250_000 - 1_000_000) mJ
    assert r.power_method == POWER_METHOD
    trace = r.trace
    assert trace is not None
    assert r.power_samples == len(trace.power_w) >= 3
    assert r.power_max_w == 300.0
    assert r.power_mean_w == pytest.approx(sum(trace.power_w) / len(trace.power_w))
    assert set(trace.power_w) <= {100.0, 200.0, 300.0}
    assert r.nvml_used_peak_bytes == 3 * GIB
    assert trace.rate_hz is not None
    assert trace.rate_hz >= 10.0
    for key in ("energy_j", "power_mean_w", "nvml_used_peak_bytes"):
        assert key not in r.unavailable
    assert script.inits == script.shutdowns == 1
    assert _no_sampler_threads()


def test_counter_absent_falls_back_to_integral(script: Script) -> None:
    script.energy_mj = None
    with _session() as session, session.window("train") as w:
        time.sleep(0.3)
    r = w.result
    trace = r.trace
    assert trace is not None
    assert r.energy_method == INTEGRAL
    assert r.energy_j is not None
    assert r.energy_j == pytest.approx(_hand_trapezoid(trace.times_s, trace.power_w))
    # every sample is 100-300 W, so the integral lies between those powers times the span
    span = trace.times_s[-1] - trace.times_s[0]
    assert 100.0 * span <= r.energy_j <= 300.0 * span
    assert span == pytest.approx(r.seconds, abs=0.1)
    assert "not supported" in r.notes["energy_method"]


def test_nvml_init_failure_gives_reasons_not_crashes(script: Script) -> None:
    script.init_error = FakeNVMLError("Driver Not Loaded")
    with _session() as session, session.window("train") as w:
        time.sleep(0.05)
    r = w.result
    assert r.seconds > 0
    assert r.power_samples == 0
    for key in ("nvml_used_peak_bytes", "power_mean_w", "power_max_w", "energy_j", "energy_method"):
        assert getattr(r, key) is None
        assert "NVML init failed" in r.unavailable[key]
        assert "Driver Not Loaded" in r.unavailable[key]
    assert _no_sampler_threads()


def test_pynvml_missing_gives_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    with _session() as session, session.window("train") as w:
        pass
    assert w.result.energy_j is None
    assert "nvidia-ml-py" in w.result.unavailable["energy_j"]


def test_errors_mid_run_are_tolerated_and_recorded(script: Script) -> None:
    script.power_fails_after = 3
    with _session() as session, session.window("train") as w:
        time.sleep(0.3)
    r = w.result
    assert r.power_samples == 3
    assert "NVML read errors" in r.notes["power_samples"]
    assert "GPU is lost" in r.notes["power_samples"]
    assert r.energy_method == COUNTER  # the counter still answered
    assert _no_sampler_threads()


def test_all_power_reads_failing_leaves_integral_unavailable(script: Script) -> None:
    script.energy_mj = None
    script.power_fails_after = 0
    with _session() as session, session.window("train") as w:
        time.sleep(0.1)
    r = w.result
    assert r.energy_j is None
    assert r.power_mean_w is None
    assert "GPU is lost" in r.unavailable["power_mean_w"]
    assert "fewer than 2 power samples" in r.unavailable["energy_j"]


def test_sampler_stops_when_window_body_raises(script: Script) -> None:
    session = _session()
    window = session.window("train")

    def diverge() -> None:
        time.sleep(0.05)
        raise RuntimeError("training diverged")

    with pytest.raises(RuntimeError, match="training diverged"), window:
        diverge()
    assert _no_sampler_threads()
    assert window.result.energy_method == COUNTER
    session.close()
    assert script.shutdowns == 1


def test_unknown_gpu_index_gives_reason(script: Script) -> None:
    session = TelemetrySession("cpu", TelemetryConfig(nvml_index=3))
    with session.window("train") as w:
        pass
    assert "could not find the GPU" in w.result.unavailable["power_mean_w"]
    session.close()


def test_probe_chain_uses_nvml_first(script: Script) -> None:
    inventory, reasons = probe_gpus()
    assert inventory.source == "nvml"
    assert inventory.count == 1
    assert inventory.names == ("Fake GPU 80GB",)
    assert inventory.driver_version == "555.42.06"
    assert inventory.cuda_driver_version == "12.5"
    assert reasons == {}
    assert script.inits == script.shutdowns == 1


def test_probe_chain_falls_through_when_nvml_fails(script: Script) -> None:
    script.init_error = FakeNVMLError("Driver Not Loaded")
    inventory, reasons = probe_gpus()
    if torch.cuda.is_available():
        assert inventory.source == "torch.cuda"
    else:
        assert inventory.source == "none"
        assert inventory.count == 0
        assert "torch.cuda" in reasons
    assert "Driver Not Loaded" in reasons["nvml"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU and real NVML")
def test_real_nvml_window_on_cuda() -> None:
    with TelemetrySession("cuda") as session, session.window("train") as w:
        a = torch.randn(4096, 4096, device="cuda")
        for _ in range(50):
            a = a @ a
            a = a / a.norm()
    r = w.result
    assert r.torch_peak_bytes is not None
    assert r.torch_peak_bytes >= 2 * 4096 * 4096 * 4
    if "power_mean_w" not in r.unavailable:
        assert r.power_mean_w is not None
        assert r.power_mean_w > 0
        assert r.energy_j is not None
        assert r.energy_j > 0

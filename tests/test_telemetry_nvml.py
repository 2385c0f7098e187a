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

import ff_algos.telemetry.nvml as nvml_module
from ff_algos.telemetry import (
    COUNTER,
    INTEGRAL,
    POWER_AVERAGE,
    POWER_INSTANT,
    TelemetryConfig,
    TelemetrySession,
    machine_info,
    probe_gpus,
)
from ff_algos.telemetry.nvml import find_cuda_gpu, index_lookup, visible_entries
from ff_algos.telemetry.sampler import THREAD_NAME

GIB = 1 << 30
FIELD_POWER_INSTANT = 186  # pynvml's NVML_FI_DEV_POWER_INSTANT


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
    # instantaneous power field: None = this pynvml has no NVML_FI_DEV_POWER_INSTANT
    instant_mw: list[int] | None = None
    instant_status: int = 0  # the field's nvmlReturn (0 = NVML_SUCCESS)
    indices: tuple[int, ...] = (0,)  # NVML indices that exist
    uuids: dict[str, int] = field(default_factory=dict)  # UUID -> NVML index
    inits: int = 0
    shutdowns: int = 0
    power_reads: int = 0
    instant_reads: int = 0
    handles_by: list[str] = field(default_factory=list)


def fake_pynvml(script: Script) -> types.ModuleType:
    power: Iterator[int] = itertools.cycle(script.power_mw)
    instant: Iterator[int] = itertools.cycle(script.instant_mw or [0])
    used: Iterator[int] = itertools.cycle(script.used)
    energy = iter(script.energy_mj or [])
    module = types.ModuleType("pynvml")
    handles = {f"handle{i}" for i in script.indices}

    def init() -> None:
        if script.init_error is not None:
            raise script.init_error
        script.inits += 1

    def shutdown() -> None:
        script.shutdowns += 1

    def by_index(i: int) -> str:
        script.handles_by.append("index")
        if i not in script.indices:
            raise FakeNVMLError("Invalid Argument")
        return f"handle{i}"

    def by_uuid(uuid: str) -> str:
        script.handles_by.append("uuid")
        if uuid not in script.uuids:
            raise FakeNVMLError("Not Found")
        return f"handle{script.uuids[uuid]}"

    def get_power(handle: str) -> int:
        assert handle in handles
        script.power_reads += 1
        fails_after = script.power_fails_after
        if fails_after is not None and script.power_reads > fails_after:
            raise FakeNVMLError("GPU is lost")
        return next(power)

    def get_fields(handle: str, ids: list[int]) -> list[types.SimpleNamespace]:
        assert handle in handles
        assert ids == [FIELD_POWER_INSTANT]
        script.instant_reads += 1
        union = types.SimpleNamespace(uiVal=next(instant), dVal=-1.0)
        status = script.instant_status
        return [types.SimpleNamespace(fieldId=ids[0], nvmlReturn=status, value=union)]

    def get_energy(handle: str) -> int:
        if script.energy_mj is None:
            raise FakeNotSupportedError("Not Supported")
        return next(energy)

    module.NVMLError = FakeNVMLError  # type: ignore[attr-defined]
    module.NVMLError_NotSupported = FakeNotSupportedError  # type: ignore[attr-defined]
    module.NVML_SUCCESS = 0  # type: ignore[attr-defined]
    if script.instant_mw is not None:
        module.NVML_FI_DEV_POWER_INSTANT = FIELD_POWER_INSTANT  # type: ignore[attr-defined]
    module.nvmlDeviceGetFieldValues = get_fields  # type: ignore[attr-defined]
    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlShutdown = shutdown  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = by_index  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByUUID = by_uuid  # type: ignore[attr-defined]
    module.nvmlDeviceGetPowerUsage = get_power  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=next(used))  # type: ignore[attr-defined]
    module.nvmlDeviceGetTotalEnergyConsumption = get_energy  # type: ignore[attr-defined]
    module.nvmlDeviceGetEnforcedPowerLimit = lambda h: 700_000  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: len(script.indices)  # type: ignore[attr-defined]
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
    assert r.power_method == POWER_AVERAGE  # this fake pynvml has no instantaneous field
    assert "instantaneous power unavailable" in r.notes["power_method"]
    assert r.nvml_match == "configured_index"
    assert "nvml_match" not in r.notes
    trace = r.trace
    assert trace is not None
    assert r.power_samples == len(trace.power_w) >= 3
    assert r.power_max_w == 300.0
    assert r.power_mean_w == pytest.approx(sum(trace.power_w) / len(trace.power_w))
    assert set(trace.power_w) <= {100.0, 200.0, 300.0}
    assert r.nvml_used_peak_bytes == 3 * GIB
    rate_hz = (len(trace.times_s) - 1) / (trace.times_s[-1] - trace.times_s[0])
    assert rate_hz >= 10.0  # achieved sampling rate
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
    for key in (
        "nvml_match",
        "nvml_used_peak_bytes",
        "power_mean_w",
        "power_max_w",
        "energy_j",
        "energy_method",
    ):
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


def _install(monkeypatch: pytest.MonkeyPatch, script: Script) -> Script:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(script))
    return script


def test_instantaneous_power_is_used_where_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _install(monkeypatch, Script(instant_mw=[450_000, 650_000], power_mw=[1]))
    with _session() as session, session.window("train") as w:
        time.sleep(0.2)
    r = w.result
    assert r.power_method == POWER_INSTANT
    assert "power_method" not in r.notes
    assert r.power_max_w == 650.0
    trace = r.trace
    assert trace is not None
    assert set(trace.power_w) <= {450.0, 650.0}
    assert script.power_reads == 0  # the averaged reading was never used
    assert script.instant_reads == 1 + r.power_samples  # one probe, then every sample


def test_instantaneous_power_failing_status_falls_back_to_average(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = _install(monkeypatch, Script(instant_mw=[450_000], instant_status=3))
    with _session() as session, session.window("train") as w:
        time.sleep(0.2)
    r = w.result
    assert r.power_method == POWER_AVERAGE
    assert "NVML status 3" in r.notes["power_method"]
    assert r.power_max_w == 300.0
    assert script.instant_reads == 1  # probed once, never again


def test_instantaneous_power_reading_zero_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, Script(instant_mw=[0]))
    with _session() as session:
        gpu, _ = session.nvml_gpu()
    assert gpu is not None
    assert gpu.power_method == POWER_AVERAGE
    assert gpu.power_note is not None
    assert "0 mW" in gpu.power_note


def test_pynvml_without_the_instant_field_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _install(monkeypatch, Script(instant_mw=None))
    with _session() as session:
        gpu, reason = session.nvml_gpu()
    assert reason is None
    assert gpu is not None
    assert gpu.power_method == POWER_AVERAGE
    assert gpu.power_note is not None
    assert "NVML_FI_DEV_POWER_INSTANT" in gpu.power_note
    assert script.instant_reads == 0


def test_visible_devices_parsing() -> None:
    assert visible_entries("2,3") == ["2", "3"]
    assert visible_entries(" 1 , GPU-abc,MIG-x ") == ["1", "GPU-abc", "MIG-x"]
    assert visible_entries("0,-1,1") == ["0"]  # CUDA stops at the first invalid entry
    assert visible_entries("") == []


@pytest.mark.parametrize(
    ("visible", "order", "by", "key", "how", "caveat"),
    [
        (None, "PCI_BUS_ID", "index", 1, "index", False),
        (None, None, "index", 1, "index", True),
        ("2,3", "PCI_BUS_ID", "index", 3, "index_via_cuda_visible_devices", False),
        ("2,3", "FASTEST_FIRST", "index", 3, "index_via_cuda_visible_devices", True),
        ("GPU-aaa,GPU-bbb", None, "uuid", "GPU-bbb", "uuid_via_cuda_visible_devices", False),
        ("0,MIG-ccc", None, "uuid", "MIG-ccc", "uuid_via_cuda_visible_devices", True),
    ],
)
def test_index_lookup_translates_through_visible_devices(
    visible: str | None, order: str | None, by: str, key: str | int, how: str, caveat: bool
) -> None:
    lookup, reason = index_lookup(1, visible, order)
    assert reason is None
    assert lookup is not None
    assert (lookup.by, lookup.key, lookup.how) == (by, key, how)
    assert (lookup.note is not None) == caveat


def test_index_lookup_beyond_visible_devices_gives_reason() -> None:
    lookup, reason = index_lookup(2, "4,5")
    assert lookup is None
    assert reason is not None
    assert "CUDA_VISIBLE_DEVICES='4,5'" in reason


def _no_torch_ids(device: torch.device) -> tuple[str | None, str | None]:
    raise RuntimeError("no CUDA here")


def test_session_gpu_falls_back_to_visible_devices_index(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _install(monkeypatch, Script(indices=(0, 1, 2, 3)))
    monkeypatch.setattr(nvml_module, "cuda_ids", _no_torch_ids)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    with TelemetrySession("cuda:1") as session:
        gpu, reason = session.nvml_gpu()
        assert reason is None
        assert gpu is not None
        assert gpu.handle == "handle3"  # torch's cuda:1 is the second visible GPU, NVML's 3
        assert gpu.found_by == "index_via_cuda_visible_devices"
        assert gpu.match_note is not None
        assert "could not report the GPU's UUID" in gpu.match_note
    assert script.inits == script.shutdowns == 1


def test_session_gpu_visible_devices_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, Script(indices=(0, 1), uuids={"GPU-bbb": 1}))
    monkeypatch.setattr(nvml_module, "cuda_ids", _no_torch_ids)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbb")
    with TelemetrySession("cuda:0") as session:
        gpu, reason = session.nvml_gpu()
    assert reason is None
    assert gpu is not None
    assert (gpu.handle, gpu.found_by) == ("handle1", "uuid_via_cuda_visible_devices")


def test_session_gpu_unmappable_visible_devices_gives_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _install(monkeypatch, Script(indices=(0, 1)))
    monkeypatch.setattr(nvml_module, "cuda_ids", _no_torch_ids)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-GPU-abc/1/0")
    with TelemetrySession("cuda:0") as session:
        gpu, reason = session.nvml_gpu()
    assert gpu is None
    assert reason is not None
    assert "Not Found" in reason
    assert "MIG-GPU-abc/1/0" in reason  # the visible-devices entry was looked up as a UUID


def test_uuid_match_wins_over_index(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _install(monkeypatch, Script(indices=(0, 1), uuids={"GPU-real": 1}))
    monkeypatch.setattr(nvml_module, "cuda_ids", lambda device: ("GPU-real", None))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    nvml = sys.modules["pynvml"]
    gpu, reason = find_cuda_gpu(nvml, torch.device("cuda:0"))
    assert reason is None
    assert gpu is not None
    assert (gpu.handle, gpu.found_by, gpu.match_note) == ("handle1", "uuid", None)
    assert script.handles_by == ["uuid"]


def _fake_props(device: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        name="Fake GPU 80GB",
        uuid="1234-abcd",
        total_memory=80 * GIB,
        major=9,
        minor=0,
        multi_processor_count=132,
    )


def test_machine_info_describes_the_cuda_device(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _install(monkeypatch, Script(indices=(0, 1), uuids={"GPU-1234-abcd": 1}))
    monkeypatch.setattr(torch.cuda, "get_device_properties", _fake_props)
    info = machine_info(device=torch.device("cuda:1"))
    assert info["device"] == {
        "type": "cuda",
        "index": 1,
        "name": "Fake GPU 80GB",
        "uuid": "GPU-1234-abcd",
        "total_memory_bytes": 80 * GIB,
        "compute_capability": "9.0",
        "multiprocessors": 132,
        "nvml_match": "uuid",
        "power_limit_w": 700.0,
    }
    assert not [k for k in info["unavailable"] if k.startswith("device")]
    assert info["gpu_count"] == 2  # the general GPU keys are still there
    assert script.inits == script.shutdowns


def test_machine_info_cuda_device_without_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, Script(init_error=FakeNVMLError("Driver Not Loaded")))
    monkeypatch.setattr(torch.cuda, "get_device_properties", _fake_props)
    info = machine_info(device=torch.device("cuda:0"))
    assert info["device"]["name"] == "Fake GPU 80GB"
    assert info["device"]["power_limit_w"] is None
    assert "Driver Not Loaded" in info["unavailable"]["device.power_limit_w"]
    assert "Driver Not Loaded" in info["unavailable"]["device.nvml_match"]


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
    if "nvml_match" not in r.unavailable:
        assert r.nvml_match in ("uuid", "pci_bus_id", "index", "index_via_cuda_visible_devices")
    if "power_mean_w" not in r.unavailable:
        assert r.power_method in (POWER_INSTANT, POWER_AVERAGE)
        assert r.power_mean_w is not None
        assert r.power_mean_w > 0
        assert r.energy_j is not None
        assert r.energy_j > 0

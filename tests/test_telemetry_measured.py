"""Telemetry results fill the typed record's measured sections; the record serialises to
ff_algos.schema's extra_info layout, validates against it and reads back equal."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

from ff_algos import registry
from ff_algos.data.catalog import dataset_info
from ff_algos.method import recipe_dict
from ff_algos.record import (
    AccuracyRecord,
    CaseRecord,
    DeviceRecord,
    Measured,
    RecipeMatch,
    TorchPeaks,
)
from ff_algos.schema import validate
from ff_algos.telemetry import (
    EpochTimes,
    PeakResult,
    TelemetryError,
    TelemetrySession,
    WindowResult,
    measure_peak_flops,
    measured_sections,
)

N_TRAIN, N_TEST = 1024, 500
FIXTURES = Path(__file__).parent / "fixtures" / "runs"


def _windows(session: TelemetrySession) -> dict[str, WindowResult]:
    with session.window("end_to_end") as e2e:
        with session.window("data") as data:
            time.sleep(0.01)
        with session.window("train") as train:
            time.sleep(0.02)
        with session.window("predict_train") as p_train:
            time.sleep(0.01)
        with session.window("predict_test") as p_test:
            time.sleep(0.01)
    return {
        "data": data.result,
        "train": train.result,
        "predict_train": p_train.result,
        "predict_test": p_test.result,
        "end_to_end": e2e.result,
    }


def _record(m: Measured) -> CaseRecord:
    """A whole case record around telemetry's sections, as the suite builds it."""
    recipe = registry.recipe("ff", "tiny")
    return CaseRecord.build(
        m,
        dataset="mnist",
        method="ff",
        recipe=recipe_dict(recipe),
        seed=0,
        device=DeviceRecord("cpu", "cpu", None),
        accuracy=AccuracyRecord(0.9, 0.9),
        study=RecipeMatch(False, ("epochs=5 (study: 1000)",)),
        precision={"precision": "fp32"},
        options={"compiled": False},
        unavailable={
            "accuracy.floor": "no floor",
            "accuracy.passed": "no floor",
            "device.index": "cpu",
            "curve": "--curve-points 0",
            "memory.held": "not measured",
            **m.unavailable,
        },
    )


def _valid(m: Measured) -> None:
    """The record validates against the saved schema and reads back equal."""
    record = _record(m)
    info = json.loads(json.dumps(record.to_extra_info()))
    assert validate(info) == []
    assert CaseRecord.from_extra_info(info) == record


def test_cpu_results_validate_against_schema() -> None:
    session = TelemetrySession("cpu")
    clock = session.epoch_clock()
    clock.phase_start("layer1", 2)
    for epoch in range(2):
        clock.epoch_end(epoch)
    clock.phase_end()
    windows = _windows(session)
    peak = measure_peak_flops(session.device, sizes=(64,), budget_s=0.02)
    flops = registry.recipe("ff", "tiny").flops(N_TRAIN, dataset_info("mnist"))
    m = measured_sections(windows, clock.result(), flops, N_TEST, peak, test_accuracy=0.9)
    _valid(m)
    seconds = m.seconds
    assert seconds.train == windows["train"].seconds
    assert seconds.predict_test == windows["predict_test"].seconds
    assert seconds.predict_train is not None
    assert seconds.predict_test is not None
    assert seconds.eval == pytest.approx(seconds.predict_train + seconds.predict_test)
    assert m.compute.timer == "perf_counter"
    assert len(m.compute.per_epoch["layer1"]) == 2
    f = m.flops
    assert f.rate_seconds == m.compute.total  # epochs only, setup excluded
    assert f.train_per_s == flops.train / m.compute.total
    assert f.utilisation == pytest.approx(f.train_per_s / peak.flops_per_s)
    assert f.model_utilisation == f.utilisation
    assert f.utilisation_basis == "model"
    assert f.executed_train is None
    assert m.unavailable["flops.executed_train"] == "not counted"
    assert f.peak_matmul_precision == peak.matmul_precision
    assert f.predict == flops.predict_for(N_TEST)
    assert m.memory.host_peak_rss_bytes == max(w.host_peak_rss_bytes or 0 for w in windows.values())
    assert m.energy.joules is None
    assert "device is cpu" in m.unavailable["energy.joules"]
    assert "device is cpu" in m.unavailable["power.nvml_match"]
    assert "predict_test window" in m.unavailable["energy.joules_per_test_point"]
    assert "memory.torch_peak_bytes.train" in m.unavailable
    assert "memory.torch_peak_bytes.eval" in m.unavailable
    if m.energy.cpu_method is None:
        for key in ("cpu_method", "cpu_package_joules", "cpu_dram_joules"):
            assert m.unavailable[f"energy.{key}"]


def _measured(name: str, seconds: float, **values: Any) -> WindowResult:
    """A window result as a GPU run would give, with the named values filled in."""
    result = WindowResult(
        name=name,
        seconds=seconds,
        torch_peak_bytes=None,
        host_peak_rss_bytes=1 << 20,
        host_peak_rss_reset=True,
        nvml_match="uuid",
        nvml_used_peak_bytes=2 << 30,
        power_method="nvml_power_instant",
        power_mean_w=300.0,
        power_max_w=400.0,
        power_samples=10,
        energy_j=None,
        energy_method="nvml_energy_counter",
        cpu_energy_method="rapl",
        cpu_package_j=None,
        cpu_dram_j=None,
    )
    return dataclasses.replace(result, **values)


def _fake_windows() -> dict[str, WindowResult]:
    return {
        "data": _measured("data", 1.0, torch_peak_bytes=100, energy_j=10.0),
        "train": _measured(
            "train", 4.0, torch_peak_bytes=900, energy_j=1200.0, cpu_package_j=80.0, cpu_dram_j=8.0
        ),
        "predict_train": _measured("predict_train", 0.5, torch_peak_bytes=500, energy_j=90.0),
        "predict_test": _measured("predict_test", 0.25, torch_peak_bytes=300, energy_j=20.0),
        "end_to_end": _measured("end_to_end", 6.0, energy_j=1400.0),
    }


PEAK = PeakResult(
    flops_per_s=1e12,
    dtype="float32",
    seconds_measured=1.0,
    device="cuda:0",
    size=4096,
    matmul_precision="high",
    threads=1,
)
TIMES = EpochTimes(timer="cuda_event", per_epoch={"train": (1.0, 1.0)}, total=2.0)


def test_gpu_windows_map_onto_the_schema() -> None:
    flops = registry.recipe("bp", "tiny").flops(N_TRAIN, dataset_info("mnist"))
    m = measured_sections(
        _fake_windows(),
        TIMES,
        flops,
        N_TEST,
        PEAK,
        test_accuracy=0.8,
        executed_train_flops=2 * 10**12,
    )
    _valid(m)
    assert m.seconds.eval == 0.75
    assert m.memory.torch_peak_bytes == TorchPeaks(
        data=100, train=900, predict_train=500, predict_test=300, eval=500
    )
    energy = m.energy
    assert energy.joules == 1200.0
    assert energy.joules_per_accuracy_point == pytest.approx(1200.0 / 80.0)
    assert energy.predict_test_joules == 20.0  # the test split only, not predict_train's 90 J
    assert energy.joules_per_test_point == pytest.approx(20.0 / N_TEST)
    assert (energy.cpu_method, energy.cpu_package_joules, energy.cpu_dram_joules) == (
        "rapl",
        80.0,
        8.0,
    )
    assert m.power.nvml_match == "uuid"
    assert m.power.method == "nvml_power_instant"
    f = m.flops
    assert f.executed_train == 2 * 10**12
    assert f.executed_train_per_s == pytest.approx(1e12)  # over compute.total, 2 s
    assert f.utilisation == pytest.approx(1.0)
    assert f.utilisation_basis == "executed"
    assert f.model_utilisation == pytest.approx(flops.train / 2.0 / 1e12)
    assert f.peak_matmul_precision == "high"
    assert "flops.utilisation" not in m.notes


def test_executed_rate_above_peak_is_kept_with_a_note() -> None:
    flops = registry.recipe("bp", "tiny").flops(N_TRAIN, dataset_info("mnist"))
    m = measured_sections(
        _fake_windows(),
        TIMES,
        flops,
        N_TEST,
        PEAK,
        test_accuracy=0.8,
        executed_train_flops=8 * 10**12,
    )
    assert m.flops.utilisation == pytest.approx(4.0)
    assert "4.00x the measured matmul peak" in m.notes["flops.utilisation"]


def test_predict_test_energy_missing_gives_reasons() -> None:
    windows = _fake_windows()
    windows["predict_test"] = dataclasses.replace(
        windows["predict_test"], energy_j=None, unavailable={"energy_j": "counter failed"}
    )
    flops = registry.recipe("bp", "tiny").flops(N_TRAIN, dataset_info("mnist"))
    m = measured_sections(windows, TIMES, flops, N_TEST, PEAK, test_accuracy=0.8)
    assert m.energy.joules_per_test_point is None
    reason = "predict_test window: counter failed"
    assert m.unavailable["energy.joules_per_test_point"] == reason
    assert m.unavailable["energy.predict_test_joules"] == reason
    _valid(m)


def test_without_peak_the_reason_is_recorded() -> None:
    session = TelemetrySession("cpu")
    clock = session.epoch_clock()
    flops = registry.recipe("bp", "tiny").flops(N_TRAIN, dataset_info("mnist"))
    m = measured_sections(
        _windows(session),
        clock.result(),
        flops,
        N_TEST,
        None,
        test_accuracy=0.9,
        peak_reason="skipped by option",
        executed_train_flops=123,
    )
    assert m.flops.peak_per_s is None
    for key in ("utilisation", "model_utilisation", "peak_matmul_precision"):
        assert getattr(m.flops, key) is None
        assert m.unavailable[f"flops.{key}"] == "skipped by option"
    assert m.flops.executed_train == 123
    _valid(m)


def test_missing_window_is_a_clear_error() -> None:
    session = TelemetrySession("cpu")
    windows = _windows(session)
    del windows["predict_test"]
    flops = registry.recipe("bp", "tiny").flops(N_TRAIN, dataset_info("mnist"))
    with pytest.raises(TelemetryError, match="predict_test"):
        measured_sections(
            windows, session.epoch_clock().result(), flops, N_TEST, None, test_accuracy=0.9
        )


def test_negative_executed_flops_is_rejected() -> None:
    flops = registry.recipe("bp", "tiny").flops(N_TRAIN, dataset_info("mnist"))
    with pytest.raises(TelemetryError, match="executed_train_flops"):
        measured_sections(
            _fake_windows(), TIMES, flops, N_TEST, PEAK, test_accuracy=0.8, executed_train_flops=-1
        )


def _saved_case() -> dict[str, Any]:
    path = sorted(FIXTURES.rglob("*.json"))[0]
    data = json.loads(path.read_text())
    info = data["benchmarks"][0]["extra_info"]
    assert isinstance(info, dict)
    return info


def test_older_records_without_the_new_fields_still_validate() -> None:
    info = _saved_case()
    assert "predict_test" not in info["seconds"]  # saved before the new fields
    assert validate(info) == []
    record = CaseRecord.from_extra_info(info)  # and read back typed, new fields None
    assert record.seconds.predict_test is None
    assert record.study is None
    assert record.accuracy.test == info["accuracy"]["test"]


def test_held_memory_without_a_cast_peak_reads_as_not_separated() -> None:
    info = copy.deepcopy(_saved_case())
    older = {"saved_for_backward_peak_bytes": 96, "parameter_bytes": 8}
    info["memory"]["held"] = {**older, "optimizer_state_bytes": 16, "rows": 4}
    held = CaseRecord.from_extra_info(info).memory.held
    assert held is not None
    assert held.cast_parameter_peak_bytes is None  # copies were counted among the activations
    info["memory"]["held"]["cast_parameter_peak_bytes"] = 32
    record = CaseRecord.from_extra_info(info)
    assert record.memory.held == dataclasses.replace(held, cast_parameter_peak_bytes=32)
    assert record.to_extra_info()["memory"]["held"]["cast_parameter_peak_bytes"] == 32
    assert validate(info) == []


def test_new_fields_are_checked_when_present() -> None:
    info = copy.deepcopy(_saved_case())
    info["flops"]["executed_train"] = "many"
    info["energy"]["cpu_package_joules"] = None
    info["unavailable"].pop("energy.cpu_package_joules", None)
    problems = validate(info)
    assert "flops.executed_train is str, expected int or null" in problems
    assert "energy.cpu_package_joules is null without a reason under 'unavailable'" in problems
    info["flops"]["executed_train"] = 7
    info["unavailable"]["energy.cpu_package_joules"] = "no RAPL"
    assert validate(info) == []


def _gpu_windows() -> dict[str, WindowResult]:
    """CPU windows given a GPU's train energy, as if NVML had measured them."""
    windows = _windows(TelemetrySession("cpu"))
    train = dataclasses.replace(
        windows["train"], energy_j=120.0, energy_method="nvml_energy_counter", unavailable={}
    )
    return {**windows, "train": train}


def test_epochs_energy_follows_compute_curve_first_then_phases() -> None:
    from ff_algos.record import PhaseJoules
    from ff_algos.telemetry.resolution import CounterStep

    session = TelemetrySession("cpu")
    clock = session.epoch_clock()
    clock.phase_start("layer1", 1)
    clock.epoch_end(0)
    clock.phase_end()
    times = clock.result()
    flops = registry.recipe("ff", "tiny").flops(N_TRAIN, dataset_info("mnist"))
    phases = {"layer1": PhaseJoules(70.0, seconds=1.0), "layer2": PhaseJoules(30.0, seconds=1.0)}
    step = CounterStep("nvml_energy_counter", 0.02, 0.05, 25, 0.5)

    def sections(**kw: Any) -> Measured:
        return measured_sections(
            _gpu_windows(), times, flops, N_TEST, None, test_accuracy=0.9, gpu_step=step, **kw
        )

    by_phase = sections(energy_by_phase=phases)
    assert by_phase.energy.joules == 120.0  # the whole train window
    assert by_phase.energy.epochs_joules == pytest.approx(100.0)  # the phases: no compile
    assert by_phase.energy.min_window_s == pytest.approx(0.1)
    assert "energy.min_window_s" in by_phase.notes
    curve = sections(energy_by_phase=phases, curve_epochs_joules=90.0)
    assert curve.energy.epochs_joules == 90.0  # evaluation left out as well
    refused = sections(energy_by_phase=phases, curve_reason="segments too short")
    assert refused.energy.epochs_joules is None
    assert "segments too short" in refused.unavailable["energy.epochs_joules"]
    short = {"layer1": PhaseJoules(None, seconds=0.01)}
    gap = sections(energy_by_phase=short, phase_unavailable={"energy.by_phase.layer1.gpu_j": "x"})
    assert gap.energy.epochs_joules is None
    assert gap.unavailable["energy.by_phase.layer1.gpu_j"] == "x"  # the phase's reason reaches it

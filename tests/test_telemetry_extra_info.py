"""Telemetry results fill ff_algos.schema's extra_info layout and validate against it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ff_algos.recipes import get_recipe, recipe_dict
from ff_algos.schema import SCHEMA_VERSION, validate
from ff_algos.telemetry import (
    TelemetryError,
    TelemetrySession,
    WindowResult,
    measure_peak_flops,
    telemetry_extra_info,
)

N_TRAIN, N_TEST = 1024, 500


def _windows(session: TelemetrySession) -> dict[str, WindowResult]:
    with session.window("end_to_end") as e2e:
        with session.window("data") as data:
            time.sleep(0.01)
        with session.window("train") as train:
            time.sleep(0.02)
        with session.window("eval") as ev:
            time.sleep(0.01)
    return {"data": data.result, "train": train.result, "eval": ev.result, "end_to_end": e2e.result}


def _rest(telemetry: dict[str, Any]) -> dict[str, Any]:
    recipe = get_recipe("tiny", "ff")
    return {
        "schema": SCHEMA_VERSION,
        "dataset": "mnist",
        "method": "ff",
        "recipe": recipe_dict(recipe),
        "seed": 0,
        "device": {"type": "cpu", "name": "cpu", "index": None},
        "accuracy": {"train": 0.9, "test": 0.9, "floor": None, "passed": None},
        "options": {"compiled": False},
        **telemetry,
        "unavailable": {
            "accuracy.floor": "no floor",
            "accuracy.passed": "no floor",
            "device.index": "cpu",
            **telemetry["unavailable"],
        },
    }


def test_cpu_results_validate_against_schema() -> None:
    session = TelemetrySession("cpu")
    clock = session.epoch_clock()
    clock.phase_start("layer1", 2)
    for epoch in range(2):
        clock.epoch_end(epoch)
    clock.phase_end()
    windows = _windows(session)
    peak = measure_peak_flops(session.device, sizes=(64,), budget_s=0.02)
    flops = get_recipe("tiny", "ff").flops(N_TRAIN, 784, 10)
    telemetry = telemetry_extra_info(
        windows, clock.result(), flops, N_TEST, peak, test_accuracy=0.9
    )
    assert validate(_rest(telemetry)) == []
    assert telemetry["seconds"]["train"] == windows["train"].seconds
    assert telemetry["compute"]["timer"] == "perf_counter"
    assert len(telemetry["compute"]["per_epoch"]["layer1"]) == 2
    assert telemetry["flops"]["train_per_s"] == flops.train / windows["train"].seconds
    assert telemetry["flops"]["utilisation"] == pytest.approx(
        telemetry["flops"]["train_per_s"] / peak.flops_per_s
    )
    assert telemetry["flops"]["predict"] == flops.predict_for(N_TEST)
    assert telemetry["memory"]["host_peak_rss_bytes"] == max(
        w.host_peak_rss_bytes or 0 for w in windows.values()
    )
    assert telemetry["energy"]["joules"] is None
    assert "device is cpu" in telemetry["unavailable"]["energy.joules"]
    assert "memory.torch_peak_bytes.train" in telemetry["unavailable"]


def test_without_peak_the_reason_is_recorded() -> None:
    session = TelemetrySession("cpu")
    clock = session.epoch_clock()
    flops = get_recipe("tiny", "bp").flops(N_TRAIN, 784, 10)
    telemetry = telemetry_extra_info(
        _windows(session),
        clock.result(),
        flops,
        N_TEST,
        None,
        test_accuracy=0.9,
        peak_reason="skipped by option",
    )
    assert telemetry["flops"]["peak_per_s"] is None
    assert telemetry["unavailable"]["flops.utilisation"] == "skipped by option"
    assert validate(_rest(telemetry)) == []


def test_missing_window_is_a_clear_error() -> None:
    session = TelemetrySession("cpu")
    windows = _windows(session)
    del windows["eval"]
    flops = get_recipe("tiny", "bp").flops(N_TRAIN, 784, 10)
    with pytest.raises(TelemetryError, match="eval"):
        telemetry_extra_info(
            windows, session.epoch_clock().result(), flops, N_TEST, None, test_accuracy=0.9
        )

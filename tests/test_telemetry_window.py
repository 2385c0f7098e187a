"""Measurement windows on the CPU: synced wall time, reasons for GPU-only fields, lifecycle."""

from __future__ import annotations

import time

import pytest

from ff_algos.telemetry import TelemetryConfig, TelemetryError, TelemetrySession
from ff_algos.telemetry.window import NVML_FIELDS, RAPL_FIELDS


def test_cpu_window_times_its_body_and_explains_missing_fields() -> None:
    session = TelemetrySession("cpu")
    t0 = time.perf_counter()
    with session.window("train") as w:
        time.sleep(0.1)
    outer = time.perf_counter() - t0
    r = w.result
    assert r.name == "train"
    assert 0.1 <= r.seconds <= outer
    assert r.torch_peak_bytes is None
    assert "cuda" in r.unavailable["torch_peak_bytes"].lower()
    for key in NVML_FIELDS:
        assert getattr(r, key) is None
        assert r.unavailable[key].startswith("device is cpu")
    assert r.power_samples == 0
    assert r.trace is None
    if r.cpu_energy_method is None:  # no readable RAPL here: every CPU energy field says why
        for key in RAPL_FIELDS:
            assert getattr(r, key) is None
            assert r.unavailable[key]
    # every None field has a reason and no reason is attached to a measured field
    nulls = {k for k, v in vars(r).items() if v is None and k != "trace"}
    assert nulls == set(r.unavailable)


def test_result_only_after_exit_and_window_used_once() -> None:
    session = TelemetrySession("cpu")
    window = session.window("eval")
    with pytest.raises(TelemetryError, match="no result"):
        _ = window.result
    with window:
        pass
    with pytest.raises(TelemetryError, match="already used"), window:
        pass


def test_body_exception_propagates_and_result_is_kept() -> None:
    session = TelemetrySession("cpu")
    window = session.window("train")

    def fail() -> None:
        time.sleep(0.02)
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError), window:
        fail()
    assert window.result.seconds >= 0.02


def test_nested_windows_time_consistently() -> None:
    session = TelemetrySession("cpu")
    with session.window("end_to_end") as outer:
        with session.window("data") as data:
            time.sleep(0.02)
        with session.window("train") as train:
            time.sleep(0.03)
    assert outer.result.seconds >= data.result.seconds + train.result.seconds


def test_closed_session_refuses_new_work() -> None:
    session = TelemetrySession("cpu")
    session.close()
    with pytest.raises(TelemetryError, match="closed"):
        session.window("train")


@pytest.mark.parametrize("hz", [5.0, 0.0, 5000.0])
def test_sample_rate_out_of_range_is_rejected(hz: float) -> None:
    with pytest.raises(TelemetryError, match="sample_hz"):
        TelemetryConfig(sample_hz=hz)

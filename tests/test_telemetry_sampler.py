"""The background power/memory sampler: rate, clean stop, error tolerance."""

from __future__ import annotations

import threading
import time

import pytest

from ff_algos.telemetry import PowerSampler, TelemetryError
from ff_algos.telemetry.sampler import THREAD_NAME


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def test_rate_at_least_10_hz_and_thread_stops() -> None:
    sampler = PowerSampler(lambda: 100.0, lambda: 1 << 30, hz=20.0)
    sampler.start()
    time.sleep(0.5)
    trace = sampler.stop()
    assert trace.joined
    assert not _sampler_threads()
    rate_hz = (len(trace.times_s) - 1) / (trace.times_s[-1] - trace.times_s[0])
    assert rate_hz >= 10.0  # achieved sampling rate
    # first sample at start, last at stop: about 0.5 s at 20 Hz gives ~11 samples
    assert len(trace.power_w) >= 6
    assert len(trace.used_bytes) == len(trace.power_w)
    assert trace.errors == 0


def test_samples_bracket_the_run() -> None:
    before = time.perf_counter()
    with PowerSampler(lambda: 1.0, None, hz=50.0) as sampler:
        time.sleep(0.2)
    after = time.perf_counter()
    trace = sampler.stop()
    assert before <= trace.times_s[0] < before + 0.1
    assert after - 0.1 < trace.times_s[-1] <= after
    assert list(trace.times_s) == sorted(trace.times_s)
    assert trace.used_bytes == ()


def test_reader_errors_are_counted_and_sampling_goes_on() -> None:
    calls = {"n": 0}

    def flaky_power() -> float:
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise RuntimeError("GPU is lost")
        return 42.0

    sampler = PowerSampler(flaky_power, None, hz=50.0)
    sampler.start()
    time.sleep(0.2)
    trace = sampler.stop()
    assert trace.errors >= 2
    assert trace.first_error == "RuntimeError: GPU is lost"
    assert len(trace.power_w) >= 2
    assert set(trace.power_w) == {42.0}


def test_context_manager_stops_thread_on_exception() -> None:
    sampler = PowerSampler(lambda: 1.0, None, hz=20.0)
    with pytest.raises(ValueError, match="boom"), sampler:
        raise ValueError("boom")
    assert not _sampler_threads()
    assert sampler.stop().joined


def test_stop_is_idempotent_and_start_once() -> None:
    sampler = PowerSampler(lambda: 1.0, None, hz=20.0)
    sampler.start()
    with pytest.raises(TelemetryError, match="already started"):
        sampler.start()
    first = sampler.stop()
    assert sampler.stop() is first


def test_stuck_reader_reports_unjoined_thread() -> None:
    release = threading.Event()

    def stuck() -> float:
        release.wait(5.0)
        return 1.0

    sampler = PowerSampler(stuck, None, hz=20.0, join_timeout_s=0.05)
    sampler.start()
    time.sleep(0.02)
    trace = sampler.stop()
    release.set()
    for thread in _sampler_threads():
        thread.join(5.0)
    assert not trace.joined

"""Energy arithmetic: the NVML counter delta and the trapezoid integral of sampled power."""

from __future__ import annotations

import pytest

from ff_algos.telemetry import TelemetryError, counter_joules, trapezoid_joules


def test_trapezoid_matches_hand_computation() -> None:
    # 0.1 s averaging (100+200)/2 W, 0.2 s averaging (200+100)/2 W, 0.3 s at 100 W
    times = [0.0, 0.1, 0.3, 0.6]
    watts = [100.0, 200.0, 100.0, 100.0]
    assert trapezoid_joules(times, watts) == pytest.approx(0.1 * 150 + 0.2 * 150 + 0.3 * 100)


def test_trapezoid_constant_power_is_power_times_span() -> None:
    times = [2.0, 2.05, 2.15, 2.5]
    assert trapezoid_joules(times, [80.0] * 4) == pytest.approx(80.0 * 0.5)


def test_trapezoid_needs_two_samples_and_matching_lengths() -> None:
    assert trapezoid_joules([], []) is None
    assert trapezoid_joules([1.0], [50.0]) is None
    with pytest.raises(TelemetryError, match="sample times"):
        trapezoid_joules([0.0, 1.0], [1.0])


def test_counter_delta_in_joules() -> None:
    assert counter_joules(1_000_000, 1_250_500) == pytest.approx(250.5)
    with pytest.raises(TelemetryError, match="backwards"):
        counter_joules(10, 5)

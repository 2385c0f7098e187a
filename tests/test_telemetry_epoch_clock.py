"""The per-epoch compute clock: CPU perf_counter timing, misuse errors, CUDA events on a GPU."""

from __future__ import annotations

import time

import pytest
import torch

from ff_algos.method import FanOut, TrainObserver
from ff_algos.telemetry import (
    CUDA_EVENT,
    PERF_COUNTER,
    EpochClock,
    TelemetryError,
    TelemetrySession,
)

CPU = torch.device("cpu")
SLEEP_S = 0.02


def _run(observer: TrainObserver, phases: dict[str, int]) -> dict[str, float]:
    """Sleep SLEEP_S per epoch; return each phase's wall time measured around it."""
    outer: dict[str, float] = {}
    for name, epochs in phases.items():
        t0 = time.perf_counter()
        observer.phase_start(name, epochs)
        for epoch in range(epochs):
            time.sleep(SLEEP_S)
            observer.epoch_end(epoch)
        observer.phase_end()
        outer[name] = time.perf_counter() - t0
    return outer


def test_cpu_epochs_per_phase_against_perf_counter() -> None:
    session = TelemetrySession(CPU)
    clock = session.epoch_clock()
    assert clock.timer == PERF_COUNTER
    with session.window("train") as w:
        outer = _run(clock, {"layer1": 3, "layer2": 4})
    times = clock.result()
    assert times.timer == PERF_COUNTER
    assert list(times.per_epoch) == ["layer1", "layer2"]
    assert [len(v) for v in times.per_epoch.values()] == [3, 4]
    for name, per_epoch in times.per_epoch.items():
        assert all(s >= SLEEP_S for s in per_epoch)  # time.sleep sleeps at least that long
        assert sum(per_epoch) <= outer[name]
    assert times.total == pytest.approx(sum(outer.values()), rel=0.2)
    assert 0.8 * w.result.seconds <= times.total <= w.result.seconds


def test_works_through_fanout() -> None:
    clock = EpochClock(CPU)
    _run(FanOut([clock]), {"train": 2})
    assert len(clock.result().per_epoch["train"]) == 2


def test_zero_epoch_phase_is_empty() -> None:
    clock = EpochClock(CPU)
    clock.phase_start("layer1", 0)
    clock.phase_end()
    times = clock.result()
    assert times.per_epoch == {"layer1": ()}
    assert times.total == 0.0


def test_misuse_is_a_clear_error() -> None:
    clock = EpochClock(CPU)
    with pytest.raises(TelemetryError, match="outside a phase"):
        clock.epoch_end(0)
    with pytest.raises(TelemetryError, match="without phase_start"):
        clock.phase_end()
    clock.phase_start("layer1", 1)
    with pytest.raises(TelemetryError, match="still open"):
        clock.result()
    with pytest.raises(TelemetryError, match="is open"):
        clock.phase_start("layer2", 1)
    clock.phase_end()
    with pytest.raises(TelemetryError, match="already timed"):
        clock.phase_start("layer1", 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA events need a CUDA GPU")
def test_cuda_events_time_device_work() -> None:
    session = TelemetrySession("cuda")
    clock = session.epoch_clock()
    a = torch.randn(2048, 2048, device="cuda")
    with session.window("train") as w:
        for name in ("layer1", "layer2"):
            clock.phase_start(name, 3)
            for epoch in range(3):
                for _ in range(10):
                    a = (a @ a) / 2048
                clock.epoch_end(epoch)
            clock.phase_end()
    times = clock.result()
    assert times.timer == CUDA_EVENT
    assert [len(v) for v in times.per_epoch.values()] == [3, 3]
    assert all(s > 0 for v in times.per_epoch.values() for s in v)
    assert times.total <= w.result.seconds

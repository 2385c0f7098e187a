"""Energy counters' time resolution: measured on fake counters that step, and short windows,
phases and curve segments refused (null with a reason, never 0 J or one whole step)."""

from __future__ import annotations

import sys
import time

import pytest
import torch

from ff_algos.telemetry import TelemetryConfig, TelemetrySession
from ff_algos.telemetry.curve import _Energy
from ff_algos.telemetry.energy import COUNTER
from ff_algos.telemetry.phase_energy import PhaseEnergy
from ff_algos.telemetry.resolution import (
    UPDATES_PER_WINDOW,
    CounterStep,
    measure_step,
    sampled_step,
    unreliable,
)
from tests.test_telemetry_nvml import Script, fake_pynvml


class SteppingCounter:
    """A counter that adds ``step_j`` every ``period_s`` of a fake clock advanced per read."""

    def __init__(self, period_s: float, step_j: float, tick_s: float = 1e-4) -> None:
        self.period, self.step, self.tick = period_s, step_j, tick_s
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def read(self) -> float:
        self.now += self.tick
        return self.step * int(self.now / self.period)


@pytest.mark.parametrize(("period", "step"), [(0.02, 0.05), (0.1, 7.0), (0.001, 1e-4)])
def test_measure_step_finds_the_period_and_the_increment(period: float, step: float) -> None:
    counter = SteppingCounter(period, step)
    found = measure_step("nvml_energy_counter", counter.read, seconds=0.5, clock=counter.clock)
    assert found.period_s == pytest.approx(period, rel=0.02)
    assert found.step_j == pytest.approx(step, rel=1e-6)
    assert found.updates == pytest.approx(0.5 / period, abs=2)
    assert found.min_window_s == pytest.approx(UPDATES_PER_WINDOW * period, rel=0.02)


def test_a_counter_that_never_moves_gets_the_probe_as_its_period() -> None:
    counter = SteppingCounter(10.0, 1.0)
    found = measure_step("rapl", counter.read, seconds=0.5, clock=counter.clock)
    assert found.step_j is None
    assert found.updates == 0
    assert found.period_s >= 0.5
    assert "never moved" in found.describe()


def test_short_windows_and_still_counters_are_unreliable() -> None:
    step = CounterStep("nvml_energy_counter", 0.02, 0.05, 25, 0.5)
    assert unreliable(50.7, 0.004, step) is not None  # the H100 run's 4 ms, 12.7 kW window
    assert "shorter than 5 updates" in (unreliable(0.05, 0.099, step) or "")
    assert unreliable(0.0, 10.0, step) == "nvml_energy_counter did not move in the window"
    assert unreliable(0.0, 10.0, None) is not None
    assert unreliable(20.0, 0.1, step) is None
    assert unreliable(1.0, 0.01, None) is None  # not probed: only a still counter is refused
    assert sampled_step("nvml_power_integral", 20.0).min_window_s == pytest.approx(0.25)


class StepGpu:
    """NvmlGpu's energy reading: ``mj`` per read (a counter stepping on every read)."""

    def __init__(self, mj: int) -> None:
        self.mj, self.total = mj, 0

    def energy_mj(self) -> int:
        self.total += self.mj
        return self.total


def test_phase_energy_refuses_phases_shorter_than_the_counter() -> None:
    step = CounterStep("nvml_energy_counter", 0.02, 0.05, 25, 0.5)
    gpu = StepGpu(50_700)
    obs = PhaseEnergy(torch.device("cpu"), gpu, None, gpu_step=step)  # type: ignore[arg-type]
    obs.phase_start("layer1", 1)
    obs.phase_end()  # microseconds long: one whole step of 50.7 J would read 12 kW
    obs.phase_start("layer2", 1)
    time.sleep(step.min_window_s * 1.2)
    obs.phase_end()
    assert obs.phases["layer1"].gpu_j is None
    assert obs.phases["layer1"].seconds is not None
    assert "shorter than 5 updates" in obs.unavailable["energy.by_phase.layer1.gpu_j"]
    assert obs.phases["layer2"].gpu_j == pytest.approx(50.7)
    assert "energy.by_phase.layer2.gpu_j" not in obs.unavailable


def test_curve_energy_so_far_needs_long_enough_segments() -> None:
    step = CounterStep("nvml_energy_counter", 0.02, 0.05, 25, 0.5)
    energy = _Energy(StepGpu(1000), None, step)  # type: ignore[arg-type]
    energy.resume()
    assert energy.pause() is None  # a segment of microseconds
    assert energy.reason is not None
    assert "1 segments" in energy.reason
    energy.resume()
    time.sleep(step.min_window_s * 2.5)
    assert energy.pause() == pytest.approx(2.0)  # two segments averaging above 5 periods
    assert energy.total == pytest.approx(2.0)


def test_session_probes_nvml_once_and_windows_follow_it(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(energy_mj=None)
    module = fake_pynvml(script)
    counter = {"reads": 0}

    def energy(handle: str) -> int:  # 1 J every 50 ms of real time
        counter["reads"] += 1
        return 1000 * int(time.perf_counter() / 0.05)

    module.nvmlDeviceGetTotalEnergyConsumption = energy  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", module)
    with TelemetrySession("cpu", TelemetryConfig(sample_hz=20.0, nvml_index=0)) as session:
        steps = session.counter_steps()
        assert session.counter_steps() is steps  # once per session
        assert steps.gpu is not None
        assert steps.cpu is None
        assert steps.gpu.period_s == pytest.approx(0.05, rel=0.5)  # a loaded CPU delays reads
        assert steps.gpu.step_j == pytest.approx(1.0)
        with session.window("predict_test") as short:
            pass
        with session.window("train") as long:
            time.sleep(steps.gpu.min_window_s * 1.5)
    assert short.result.energy_j is None
    assert short.result.energy_method == COUNTER
    assert "shorter than 5 updates" in short.result.unavailable["energy_j"]
    assert long.result.energy_j is not None
    assert long.result.energy_j >= 5.0
    assert "energy_j" not in long.result.unavailable

"""Energy per phase: counters read at each phase's start and end, RAPL and NVML (fakes)."""

from __future__ import annotations

from pathlib import Path

import torch

from ff_algos.telemetry.phase_energy import PhaseEnergy
from ff_algos.telemetry.rapl import open_rapl


class FakeGpu:
    def __init__(self) -> None:
        self.mj = 1000

    def energy_mj(self) -> int:
        self.mj += 2500  # each read: 2.5 J more
        return self.mj


def test_each_phase_gets_its_own_counters(tmp_path: Path) -> None:
    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    (zone / "name").write_text("package-0\n")
    (zone / "max_energy_range_uj").write_text("1000000\n")
    counter = zone / "energy_uj"
    counter.write_text("999000\n")
    rapl, reason = open_rapl(tmp_path)
    assert rapl is not None, reason
    obs = PhaseEnergy(torch.device("cpu"), FakeGpu(), rapl)  # type: ignore[arg-type]
    obs.phase_start("layer1", 2)
    counter.write_text("4000\n")  # wrapped: 1000 (to the range) + 1 + 4000 uJ
    obs.epoch_end(0)
    obs.phase_end()
    obs.phase_start("finetune", 1)
    counter.write_text("6000\n")
    obs.phase_end()
    assert obs.phases["layer1"].gpu_j == 2.5
    assert obs.phases["layer1"].cpu_package_j == 0.005001
    assert obs.phases["finetune"].cpu_package_j == 0.002
    assert obs.phases["finetune"].cpu_dram_j is None
    assert obs.reasons == []


def test_without_counters_phases_are_null() -> None:
    obs = PhaseEnergy(torch.device("cpu"), None, None)
    obs.phase_start("train", 1)
    obs.phase_end()
    assert obs.phases["train"].gpu_j is None
    assert obs.phases["train"].cpu_package_j is None

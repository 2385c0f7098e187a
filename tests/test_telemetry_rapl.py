"""CPU energy from RAPL powercap counters, on fake sysfs trees built in tmp_path."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ff_algos.telemetry import RAPL, TelemetryConfig, TelemetrySession, open_rapl
from ff_algos.telemetry.config import POWERCAP_ROOT
from ff_algos.telemetry.rapl import delta_uj

RANGE = 262_143_328_850  # a typical max_energy_range_uj


def _zone(root: Path, directory: str, name: str, energy_uj: int, max_range: int = RANGE) -> Path:
    zone = root / directory
    zone.mkdir(parents=True)
    (zone / "name").write_text(f"{name}\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")
    return zone


def _set(zone: Path, energy_uj: int) -> None:
    (zone / "energy_uj").write_text(f"{energy_uj}\n")


def _two_sockets(root: Path) -> dict[str, Path]:
    return {
        "pkg0": _zone(root, "intel-rapl:0", "package-0", 1_000_000),
        "core0": _zone(root, "intel-rapl:0:0", "core", 5),
        "dram0": _zone(root, "intel-rapl:0:1", "dram", 2_000_000),
        "pkg1": _zone(root, "intel-rapl:1", "package-1", 3_000_000),
        "dram1": _zone(root, "intel-rapl:1:0", "dram", 4_000_000),
        "mmio": _zone(root, "intel-rapl-mmio:0", "package-0", 7),  # duplicate: ignored
        "psys": _zone(root, "intel-rapl:2", "psys", 9),  # platform zone: ignored
    }


def test_delta_handles_one_wraparound() -> None:
    assert delta_uj(100, 250, 1000) == 150
    assert delta_uj(900, 50, 1000) == 151  # 900 -> 1000, wrap to 0 (one step), -> 50
    with pytest.raises(ValueError, match="range"):
        delta_uj(5000, 10, 1000)


def test_discovers_packages_and_dram_and_sums_sockets(tmp_path: Path) -> None:
    zones = _two_sockets(tmp_path)
    rapl, reason = open_rapl(tmp_path)
    assert reason is None
    assert rapl is not None
    assert sorted((z.path.name, z.kind) for z in rapl.zones) == [
        ("intel-rapl:0", "package"),
        ("intel-rapl:0:1", "dram"),
        ("intel-rapl:1", "package"),
        ("intel-rapl:1:0", "dram"),
    ]
    start = rapl.read()
    _set(zones["pkg0"], 11_000_000)  # +10 J
    _set(zones["pkg1"], 8_000_000)  # +5 J
    _set(zones["dram0"], 2_500_000)  # +0.5 J
    _set(zones["dram1"], 5_000_000)  # +1 J
    energy = rapl.energy(start, rapl.read())
    assert energy.package_j == pytest.approx(15.0)
    assert energy.dram_j == pytest.approx(1.5)
    assert energy.package_reason is None
    assert energy.dram_reason is None


def test_wraparound_between_reads(tmp_path: Path) -> None:
    pkg = _zone(tmp_path, "intel-rapl:0", "package-0", 999_000_000, max_range=999_999_999)
    rapl, _ = open_rapl(tmp_path)
    assert rapl is not None
    start = rapl.read()
    _set(pkg, 1_000_000)  # wrapped: 999_999_999 - 999_000_000 + 1 + 1_000_000 uJ
    energy = rapl.energy(start, rapl.read())
    assert energy.package_j == pytest.approx(2.0)


def test_amd_layout_without_dram(tmp_path: Path) -> None:
    _zone(tmp_path, "amd-rapl:0", "package-0", 10)
    _zone(tmp_path, "amd-rapl:0:0", "core", 10)
    rapl, reason = open_rapl(tmp_path)
    assert reason is None
    assert rapl is not None
    energy = rapl.energy(rapl.read(), rapl.read())
    assert energy.package_j == 0.0
    assert energy.dram_j is None
    assert energy.dram_reason == f"no RAPL dram zone under {tmp_path}"


def test_missing_tree_and_no_packages_give_reasons(tmp_path: Path) -> None:
    rapl, reason = open_rapl(tmp_path / "absent")
    assert rapl is None
    assert reason is not None
    assert "no RAPL powercap tree" in reason
    _zone(tmp_path, "intel-rapl:0", "psys", 1)
    rapl, reason = open_rapl(tmp_path)
    assert rapl is None
    assert reason == f"no RAPL package zones under {tmp_path}"


def test_garbage_counter_gives_reason(tmp_path: Path) -> None:
    pkg = _zone(tmp_path, "intel-rapl:0", "package-0", 1)
    (pkg / "energy_uj").write_text("not a number\n")
    rapl, reason = open_rapl(tmp_path)
    assert rapl is None
    assert reason is not None
    assert "cannot read RAPL energy_uj" in reason


def test_unopenable_counter_gives_one_line_reason(tmp_path: Path) -> None:
    pkg = _zone(tmp_path, "intel-rapl:0", "package-0", 1)
    (pkg / "energy_uj").unlink()
    (pkg / "energy_uj").mkdir()  # an OSError even for root
    rapl, reason = open_rapl(tmp_path)
    assert rapl is None
    assert reason is not None
    assert "IsADirectoryError" in reason
    assert "\n" not in reason


def test_unreadable_counter_gives_one_line_reason(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    pkg = _zone(tmp_path, "intel-rapl:0", "package-0", 1)
    (pkg / "energy_uj").chmod(0)
    try:
        rapl, reason = open_rapl(tmp_path)
    finally:
        (pkg / "energy_uj").chmod(0o644)
    assert rapl is None
    assert reason is not None
    assert "PermissionError" in reason
    assert "root" in reason
    assert "\n" not in reason


def test_this_machine_without_rapl_gives_reason() -> None:
    rapl, reason = open_rapl()
    if rapl is not None:
        pytest.skip(f"this machine exposes readable RAPL counters under {POWERCAP_ROOT}")
    assert reason
    with TelemetrySession("cpu") as session, session.window("train") as w:
        pass
    r = w.result
    for key in ("cpu_energy_method", "cpu_package_j", "cpu_dram_j"):
        assert getattr(r, key) is None
        assert r.unavailable[key] == reason


def test_window_reads_rapl_at_both_ends(tmp_path: Path) -> None:
    zones = _two_sockets(tmp_path)
    session = TelemetrySession("cpu", TelemetryConfig(rapl_root=tmp_path))
    with session.window("train") as w:
        _set(zones["pkg0"], 3_000_000)  # +2 J
        _set(zones["dram1"], 4_250_000)  # +0.25 J
        time.sleep(0.01)
    r = w.result
    assert r.cpu_energy_method == RAPL
    assert r.cpu_package_j == pytest.approx(2.0)
    assert r.cpu_dram_j == pytest.approx(0.25)
    for key in ("cpu_energy_method", "cpu_package_j", "cpu_dram_j"):
        assert key not in r.unavailable
    session.close()


def test_window_counter_vanishing_mid_window_gives_reason(tmp_path: Path) -> None:
    zones = _two_sockets(tmp_path)
    session = TelemetrySession("cpu", TelemetryConfig(rapl_root=tmp_path))
    with session.window("train") as w:
        (zones["dram0"] / "energy_uj").unlink()
    r = w.result
    assert r.cpu_package_j is None
    assert r.cpu_dram_j is None
    assert "RAPL read failed at end" in r.unavailable["cpu_package_j"]
    assert "FileNotFoundError" in r.unavailable["cpu_dram_j"]
    session.close()


def test_unreadable_zone_range_gives_reason(tmp_path: Path) -> None:
    pkg = _zone(tmp_path, "intel-rapl:0", "package-0", 1)
    (pkg / "max_energy_range_uj").unlink()
    rapl, reason = open_rapl(tmp_path)
    assert rapl is None
    assert reason is not None
    assert reason.startswith(f"cannot read RAPL zone {pkg}")

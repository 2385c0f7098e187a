"""CPU energy from RAPL (running average power limit) counters in Linux's powercap sysfs tree.

Zones ``intel-rapl:N`` (also used by the kernel for AMD CPUs) or ``amd-rapl:N`` named
``package-N`` count one socket's package energy; their subzones ``intel-rapl:N:M`` named
``dram`` count its memory energy (AMD CPUs have none). Each zone's ``energy_uj`` is a
microjoule counter that wraps to zero after ``max_energy_range_uj``; a delta handles one wrap,
so a window must be shorter than one wrap period (minutes to hours at full power). The
``intel-rapl-mmio`` duplicates of the package zones are ignored so nothing is counted twice.

``energy_uj`` is readable by root only on kernels patched for CVE-2020-8694; an unreadable file,
like a missing tree, is a one-line reason from :func:`open_rapl`, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ff_algos.data.files import describe
from ff_algos.telemetry.config import POWERCAP_ROOT, TelemetryError

RAPL = "rapl"
PACKAGE = "package"
DRAM = "dram"
_ZONE = re.compile(r"^(?:intel-rapl|amd-rapl):\d+(?::\d+)?$")


@dataclass(frozen=True)
class RaplZone:
    """One counter: its sysfs directory, ``name`` file, kind and wrap range."""

    path: Path
    name: str  # "package-0", "dram"
    kind: str  # PACKAGE or DRAM
    max_range_uj: int


@dataclass(frozen=True)
class RaplEnergy:
    """Joules over one interval, summed over sockets; None with a reason where not counted."""

    package_j: float | None
    dram_j: float | None
    package_reason: str | None
    dram_reason: str | None


def delta_uj(start: int, end: int, max_range_uj: int) -> int:
    """Microjoules between two reads of a counter that wraps after ``max_range_uj`` (once)."""
    delta = end - start
    if delta < 0:
        delta += max_range_uj + 1
    if delta < 0:
        raise TelemetryError(
            f"RAPL counter {start} -> {end} uJ does not fit its range {max_range_uj} uJ"
        )
    return delta


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


@dataclass(frozen=True)
class Rapl:
    """The package and DRAM zones of every socket under one powercap root."""

    root: Path
    zones: tuple[RaplZone, ...]

    def read(self) -> tuple[int, ...]:
        """Every zone's ``energy_uj``, in zone order; raises ``OSError``/``ValueError``."""
        return tuple(_read_int(zone.path / "energy_uj") for zone in self.zones)

    def energy(self, start: Sequence[int], end: Sequence[int]) -> RaplEnergy:
        """Package and DRAM joules between two :meth:`read` results."""
        if len(start) != len(self.zones) or len(end) != len(self.zones):
            raise TelemetryError(f"{len(self.zones)} RAPL zones but {len(start)}/{len(end)} reads")
        totals: dict[str, float] = {}
        for zone, a, b in zip(self.zones, start, end, strict=True):
            totals[zone.kind] = totals.get(zone.kind, 0.0) + delta_uj(a, b, zone.max_range_uj) / 1e6
        missing = f"no RAPL {{}} zone under {self.root}"
        return RaplEnergy(
            package_j=totals.get(PACKAGE),
            dram_j=totals.get(DRAM),
            package_reason=None if PACKAGE in totals else missing.format(PACKAGE),
            dram_reason=None if DRAM in totals else missing.format(DRAM),
        )


def _kind(directory: Path, name: str) -> str | None:
    top_level = directory.name.count(":") == 1
    if top_level and name.startswith("package-"):
        return PACKAGE
    if not top_level and name == DRAM:
        return DRAM
    return None  # psys, core, uncore, ...: not counted


def open_rapl(root: Path = POWERCAP_ROOT) -> tuple[Rapl | None, str | None]:
    """The RAPL package (and DRAM) zones under ``root``, checked readable.

    Returns ``(rapl, None)`` or ``(None, reason)``.
    """
    try:
        directories = sorted(p for p in root.iterdir() if _ZONE.match(p.name))
    except OSError as e:
        return None, f"no RAPL powercap tree at {root} ({describe(e)})"
    zones: list[RaplZone] = []
    try:
        for directory in directories:
            name = (directory / "name").read_text().strip()
            kind = _kind(directory, name)
            if kind is not None:
                max_range = _read_int(directory / "max_energy_range_uj")
                zones.append(RaplZone(directory, name, kind, max_range))
    except (OSError, ValueError) as e:
        return None, f"cannot read RAPL zone {directory} ({describe(e)})"
    if not any(zone.kind == PACKAGE for zone in zones):
        return None, f"no RAPL package zones under {root}"
    rapl = Rapl(root, tuple(zones))
    try:
        rapl.read()
    except (OSError, ValueError) as e:
        return None, (
            f"cannot read RAPL energy_uj under {root} ({describe(e)}); "
            "recent kernels let only root read it"
        )
    return rapl, None

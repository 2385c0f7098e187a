"""Lazy access to NVML (the NVIDIA management library) through ``pynvml``.

Nothing here runs at import: ``pynvml`` is imported and NVML initialised only when
:func:`load_nvml` is called. Every failure becomes a one-line reason instead of an exception,
so callers can record why a field is missing and carry on.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch


def describe(error: BaseException) -> str:
    """A one-line description of ``error``: its type and message."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def load_nvml() -> tuple[ModuleType | None, str | None]:
    """Import ``pynvml`` and initialise NVML: ``(module, None)`` or ``(None, reason)``.

    Each successful call must be paired with :func:`release_nvml` (NVML counts its inits).
    """
    try:
        import pynvml
    except ImportError as e:
        return None, f"pynvml is not importable ({describe(e)}); install nvidia-ml-py"
    try:
        pynvml.nvmlInit()
    except Exception as e:  # any NVML or loader failure means "no NVML here"
        return None, f"NVML init failed ({describe(e)})"
    return pynvml, None


def release_nvml(nvml: ModuleType) -> str | None:
    """Shut NVML down once (undoing one :func:`load_nvml`); a reason if that failed."""
    try:
        nvml.nvmlShutdown()
    except Exception as e:
        return f"NVML shutdown failed ({describe(e)})"
    return None


def text(value: Any) -> str:
    """An NVML string result as ``str`` (older pynvml versions return bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def is_not_supported(nvml: ModuleType, error: BaseException) -> bool:
    """Whether ``error`` is NVML's "this device does not support that query"."""
    not_supported = getattr(nvml, "NVMLError_NotSupported", None)
    return isinstance(not_supported, type) and isinstance(error, not_supported)


@dataclass(frozen=True)
class NvmlGpu:
    """One NVML device handle with the three readings telemetry needs.

    ``found_by`` records how the handle was matched to the torch device ("uuid", "pci_bus_id"
    or "index"), because CUDA and NVML may number GPUs differently.
    """

    nvml: ModuleType
    handle: Any
    found_by: str

    def power_w(self) -> float:
        """Board power draw in watts (NVML reports milliwatts)."""
        return float(self.nvml.nvmlDeviceGetPowerUsage(self.handle)) / 1000.0

    def used_bytes(self) -> int:
        """Device memory in use by every process, in bytes."""
        return int(self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used)

    def energy_mj(self) -> int:
        """Energy used since the driver loaded, in millijoules; raises where unsupported."""
        return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def name(self) -> str:
        """The product name, for example "NVIDIA H100 80GB HBM3"."""
        return text(self.nvml.nvmlDeviceGetName(self.handle))


def cuda_ids(device: torch.device) -> tuple[str | None, str | None]:
    """NVML-style UUID and PCI bus id of a CUDA ``device`` (each None where torch lacks it)."""
    props = torch.cuda.get_device_properties(device)
    raw_uuid = getattr(props, "uuid", None)
    uuid = None if raw_uuid is None else f"GPU-{raw_uuid}"
    bus = getattr(props, "pci_bus_id", None)
    dev = getattr(props, "pci_device_id", None)
    domain = getattr(props, "pci_domain_id", None)
    pci = None
    if bus is not None and dev is not None and domain is not None:
        pci = f"{domain:08X}:{bus:02X}:{dev:02X}.0"
    return uuid, pci


def open_gpu(
    nvml: ModuleType,
    *,
    index: int | None,
    uuid: str | None = None,
    pci_bus_id: str | None = None,
) -> tuple[NvmlGpu | None, str | None]:
    """The NVML handle for a GPU, trying its UUID, then PCI bus id, then index.

    Returns ``(gpu, None)`` or ``(None, reason)`` with every attempt's failure in the reason.
    """
    attempts: list[tuple[str, str | int | None, str]] = [
        ("uuid", uuid, "nvmlDeviceGetHandleByUUID"),
        ("pci_bus_id", pci_bus_id, "nvmlDeviceGetHandleByPciBusId"),
        ("index", index, "nvmlDeviceGetHandleByIndex"),
    ]
    failures: list[str] = []
    for how, key, function in attempts:
        if key is None:
            continue
        try:
            handle = getattr(nvml, function)(key)
        except Exception as e:
            failures.append(f"by {how} {key!r}: {describe(e)}")
            continue
        return NvmlGpu(nvml=nvml, handle=handle, found_by=how), None
    if not failures:
        return None, "no GPU index, UUID or PCI bus id to look up in NVML"
    return None, "NVML could not find the GPU (" + "; ".join(failures) + ")"

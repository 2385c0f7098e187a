"""Which GPUs this machine has, from an ordered chain of providers: NVML, torch.cuda, none.

Each provider returns a :class:`GpuInventory` or None (recording why under its name); the first
value wins. The last provider, "none", always answers: no GPUs. NVML is asked first because it
also knows the driver version and sees GPUs that CUDA_VISIBLE_DEVICES hides from torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ff_algos.data.files import describe
from ff_algos.telemetry.nvml import load_nvml, release_nvml, text


@dataclass(frozen=True)
class GpuInventory:
    """GPUs as one provider sees them."""

    source: str  # "nvml", "torch.cuda" or "none"
    count: int
    names: tuple[str, ...]
    driver_version: str | None
    cuda_driver_version: str | None  # highest CUDA version the driver supports, e.g. "12.4"


Provider = Callable[[dict[str, str]], GpuInventory | None]


def nvml_provider(reasons: dict[str, str]) -> GpuInventory | None:
    """GPUs as NVML lists them (all physical GPUs), with the driver version."""
    nvml, reason = load_nvml()
    if nvml is None:
        reasons["nvml"] = reason or "NVML unavailable"
        return None
    try:
        count = int(nvml.nvmlDeviceGetCount())
        names = tuple(
            text(nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)
        )
        driver = text(nvml.nvmlSystemGetDriverVersion())
        cuda_driver: str | None = None
        try:
            version = int(nvml.nvmlSystemGetCudaDriverVersion())
            cuda_driver = f"{version // 1000}.{version % 1000 // 10}"
        except Exception as e:
            reasons["cuda_driver_version"] = f"NVML could not report it ({describe(e)})"
    except Exception as e:
        reasons["nvml"] = f"NVML query failed ({describe(e)})"
        return None
    finally:
        release_nvml(nvml)
    return GpuInventory("nvml", count, names, driver, cuda_driver)


def torch_provider(reasons: dict[str, str]) -> GpuInventory | None:
    """GPUs visible to torch (no driver version from here)."""
    try:
        if not torch.cuda.is_available():
            reasons["torch.cuda"] = "torch.cuda.is_available() is False"
            return None
        count = torch.cuda.device_count()
        names = tuple(torch.cuda.get_device_name(i) for i in range(count))
    except Exception as e:
        reasons["torch.cuda"] = f"torch.cuda query failed ({describe(e)})"
        return None
    return GpuInventory("torch.cuda", count, names, None, None)


def none_provider(reasons: dict[str, str]) -> GpuInventory:
    """The last resort: no GPUs."""
    return GpuInventory("none", 0, (), None, None)


PROVIDERS: tuple[Provider, ...] = (nvml_provider, torch_provider, none_provider)


def probe_gpus(
    providers: Sequence[Provider] = PROVIDERS,
) -> tuple[GpuInventory, dict[str, str]]:
    """The first provider's answer, and why each provider before it gave none."""
    reasons: dict[str, str] = {}
    for provider in providers:
        found = provider(reasons)
        if found is not None:
            return found, reasons
    return none_provider(reasons), reasons

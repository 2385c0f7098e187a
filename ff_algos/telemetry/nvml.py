"""Lazy access to NVML (the NVIDIA management library) through ``pynvml``.

Nothing here runs at import: ``pynvml`` is imported and NVML initialised only when
:func:`load_nvml` is called. Every failure becomes a one-line reason instead of an exception,
so callers can record why a field is missing and carry on.

Power: on Ampere and later GPUs ``nvmlDeviceGetPowerUsage`` is a one-second average, which
understates short peaks, so :class:`NvmlGpu` reads the instantaneous field
``NVML_FI_DEV_POWER_INSTANT`` where the GPU and ``pynvml`` support it (probed once when the GPU
is opened) and falls back to the averaged reading; ``NvmlGpu.power_method`` says which.

Matching a torch CUDA device to an NVML device (:func:`find_cuda_gpu`): by UUID, then PCI bus
id, then by index. CUDA numbers only the GPUs in ``CUDA_VISIBLE_DEVICES`` (and, unless
``CUDA_DEVICE_ORDER=PCI_BUS_ID``, fastest first) while NVML numbers every GPU in PCI order, so
the index fallback translates torch's index through ``CUDA_VISIBLE_DEVICES`` (an integer entry
is an index, a ``GPU-``/``MIG-`` entry is looked up as a UUID). ``NvmlGpu.found_by`` records the
match and ``NvmlGpu.match_note`` any caveat.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch

from ff_algos.data.files import describe as describe  # re-exported: phase_energy imports it here

POWER_INSTANT = "nvml_power_instant"  # NVML_FI_DEV_POWER_INSTANT field
POWER_AVERAGE = "nvml_power_average"  # nvmlDeviceGetPowerUsage (about 1 s average on Ampere+)

VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
DEVICE_ORDER = "CUDA_DEVICE_ORDER"
ORDER_NOTE = (
    f"{DEVICE_ORDER} is not PCI_BUS_ID, so CUDA may number GPUs fastest first while NVML uses "
    "PCI order; the index match assumes they agree"
)

_HANDLE_BY = {
    "uuid": "nvmlDeviceGetHandleByUUID",
    "pci_bus_id": "nvmlDeviceGetHandleByPciBusId",
    "index": "nvmlDeviceGetHandleByIndex",
}


class NvmlReadError(RuntimeError):
    """An NVML reading that answered with a failure status instead of raising."""


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


def instant_power_mw(nvml: ModuleType, handle: Any) -> int:
    """The instantaneous board power in milliwatts (``NVML_FI_DEV_POWER_INSTANT``).

    Raises :class:`NvmlReadError` where ``pynvml`` lacks the field or NVML answers with a
    failure status, and whatever ``pynvml`` raises otherwise.
    """
    field_id = getattr(nvml, "NVML_FI_DEV_POWER_INSTANT", None)
    get_fields = getattr(nvml, "nvmlDeviceGetFieldValues", None)
    if field_id is None or get_fields is None:
        raise NvmlReadError("this pynvml has no NVML_FI_DEV_POWER_INSTANT field reading")
    value = get_fields(handle, [field_id])[0]
    status = int(value.nvmlReturn)
    if status != getattr(nvml, "NVML_SUCCESS", 0):
        raise NvmlReadError(f"NVML_FI_DEV_POWER_INSTANT returned NVML status {status}")
    return int(value.value.uiVal)


def probe_power(nvml: ModuleType, handle: Any) -> tuple[str, str | None]:
    """Which power reading to use: ``(POWER_INSTANT, None)`` or ``(POWER_AVERAGE, why)``."""
    try:
        if instant_power_mw(nvml, handle) <= 0:  # a powered board never draws 0 W
            raise NvmlReadError("NVML_FI_DEV_POWER_INSTANT reads 0 mW")
    except Exception as e:
        return POWER_AVERAGE, (
            f"instantaneous power unavailable ({describe(e)}); NVML's power usage reading "
            "is a 1 s average on Ampere and later GPUs and may understate peaks"
        )
    return POWER_INSTANT, None


@dataclass(frozen=True)
class NvmlGpu:
    """One NVML device handle with the readings telemetry needs.

    ``found_by`` records how the handle was matched to the torch device ("uuid", "pci_bus_id",
    "index", "index_via_cuda_visible_devices", "uuid_via_cuda_visible_devices", or
    "configured_index" for ``TelemetryConfig.nvml_index``), because CUDA and NVML may number
    GPUs differently; ``match_note`` is a caveat on that match. ``power_method`` is
    :data:`POWER_INSTANT` or :data:`POWER_AVERAGE`; ``power_note`` says why not instantaneous.
    """

    nvml: ModuleType
    handle: Any
    found_by: str
    power_method: str = POWER_AVERAGE
    power_note: str | None = None
    match_note: str | None = None

    def power_w(self) -> float:
        """Board power draw in watts (NVML reports milliwatts), read as ``power_method`` says."""
        if self.power_method == POWER_INSTANT:
            return instant_power_mw(self.nvml, self.handle) / 1000.0
        return float(self.nvml.nvmlDeviceGetPowerUsage(self.handle)) / 1000.0

    def used_bytes(self) -> int:
        """Device memory in use by every process, in bytes."""
        return int(self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used)

    def energy_mj(self) -> int:
        """Energy used since the driver loaded, in millijoules; raises where unsupported."""
        return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def power_limit_w(self) -> float:
        """The enforced board power limit in watts; raises where unsupported."""
        return float(self.nvml.nvmlDeviceGetEnforcedPowerLimit(self.handle)) / 1000.0


@dataclass(frozen=True)
class Lookup:
    """One way to find a GPU in NVML: ``by`` "uuid", "pci_bus_id" or "index", then ``key``.

    ``how`` is recorded as :attr:`NvmlGpu.found_by` when this lookup succeeds, and ``note``
    (a caveat on this way of matching) as part of :attr:`NvmlGpu.match_note`.
    """

    by: str
    key: str | int
    how: str
    note: str | None = None


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


def visible_entries(visible: str) -> list[str]:
    """The device entries of a ``CUDA_VISIBLE_DEVICES`` value, as CUDA reads them.

    CUDA stops at the first entry that is neither a non-negative integer nor a ``GPU-``/``MIG-``
    identifier (so ``"0,-1,1"`` shows GPU 0 only, and ``""`` shows none).
    """
    entries: list[str] = []
    for raw in visible.split(","):
        entry = raw.strip()
        if not (entry.isdigit() or entry.startswith(("GPU-", "MIG-"))):
            break
        entries.append(entry)
    return entries


def index_lookup(
    torch_index: int, visible: str | None, order: str | None = None
) -> tuple[Lookup | None, str | None]:
    """How to find torch's CUDA device ``torch_index`` in NVML without its UUID or bus id.

    ``visible`` and ``order`` are ``CUDA_VISIBLE_DEVICES`` and ``CUDA_DEVICE_ORDER``. Returns
    ``(lookup, None)``, its caveat in ``lookup.note``, or ``(None, reason)``.
    """
    order_note = None if order == "PCI_BUS_ID" else ORDER_NOTE
    if visible is None:
        return Lookup("index", torch_index, "index", order_note), None
    entries = visible_entries(visible)
    if torch_index >= len(entries):
        return None, (
            f"torch GPU index {torch_index} has no entry in {VISIBLE_DEVICES}={visible!r} "
            f"({len(entries)} usable)"
        )
    entry = entries[torch_index]
    if entry.isdigit():
        return Lookup("index", int(entry), "index_via_cuda_visible_devices", order_note), None
    mig_note = None
    if entry.startswith("MIG-"):
        mig_note = f"{entry} is a MIG instance; NVML power and energy may be unsupported for it"
    return Lookup("uuid", entry, "uuid_via_cuda_visible_devices", mig_note), None


def open_gpu_by(
    nvml: ModuleType, lookups: Sequence[Lookup], context: str | None = None
) -> tuple[NvmlGpu | None, str | None]:
    """The NVML handle found by the first lookup that succeeds, its power reading probed.

    Returns ``(gpu, None)`` or ``(None, reason)`` with every attempt's failure and ``context``
    in the reason. Failed attempts before the one that worked, and its note, become
    ``match_note``.
    """
    failures: list[str] = []
    for lookup in lookups:
        try:
            handle = getattr(nvml, _HANDLE_BY[lookup.by])(lookup.key)
        except Exception as e:
            failures.append(f"by {lookup.by} {lookup.key!r}: {describe(e)}")
            continue
        method, power_note = probe_power(nvml, handle)
        notes = [f"failed first {failure}" for failure in failures]
        if lookup.note:
            notes.append(lookup.note)
        gpu = NvmlGpu(
            nvml=nvml,
            handle=handle,
            found_by=lookup.how,
            power_method=method,
            power_note=power_note,
            match_note="; ".join(notes) or None,
        )
        return gpu, None
    if not failures:
        reason = "no GPU index, UUID or PCI bus id to look up in NVML"
    else:
        reason = "NVML could not find the GPU (" + "; ".join(failures) + ")"
    return None, reason if not context else f"{reason}; {context}"


def open_gpu(
    nvml: ModuleType,
    *,
    index: int | None,
    uuid: str | None = None,
    pci_bus_id: str | None = None,
    index_found_by: str = "index",
) -> tuple[NvmlGpu | None, str | None]:
    """The NVML handle for a GPU, trying its UUID, then PCI bus id, then NVML ``index``.

    Returns ``(gpu, None)`` or ``(None, reason)`` with every attempt's failure in the reason.
    """
    lookups = [
        *([Lookup("uuid", uuid, "uuid")] if uuid is not None else []),
        *([Lookup("pci_bus_id", pci_bus_id, "pci_bus_id")] if pci_bus_id is not None else []),
        *([Lookup("index", index, index_found_by)] if index is not None else []),
    ]
    return open_gpu_by(nvml, lookups)


def find_cuda_gpu(
    nvml: ModuleType, device: torch.device, env: Mapping[str, str] | None = None
) -> tuple[NvmlGpu | None, str | None]:
    """The NVML device behind torch's CUDA ``device`` (which must have an index).

    Tries the UUID and PCI bus id torch reports, then torch's index translated through
    ``CUDA_VISIBLE_DEVICES`` of ``env`` (default ``os.environ``).
    """
    env = os.environ if env is None else env
    if device.index is None:
        return None, f"{device} has no index; resolve it to cuda:N first"
    lookups: list[Lookup] = []
    context: list[str] = []
    try:
        uuid, pci = cuda_ids(device)
    except Exception as e:  # fall back to the index
        uuid = pci = None
        context.append(f"torch could not report the GPU's UUID ({describe(e)})")
    if uuid is not None:
        lookups.append(Lookup("uuid", uuid, "uuid"))
    if pci is not None:
        lookups.append(Lookup("pci_bus_id", pci, "pci_bus_id"))
    fallback, why = index_lookup(device.index, env.get(VISIBLE_DEVICES), env.get(DEVICE_ORDER))
    if fallback is None:
        context.append(why or "no index to fall back on")
    else:
        if context:  # why the index had to be used is part of the caveat on the match
            note = "; ".join([*context, *([fallback.note] if fallback.note else [])])
            fallback = dataclasses.replace(fallback, note=note)
        lookups.append(fallback)
    return open_gpu_by(nvml, lookups, "; ".join(context) or None)

"""Short descriptions of the machine a run was saved on, from its ``machine_info``.

pytest-benchmark fills ``machine_info`` (``cpu``, ``python_version``, ...); the suite adds
``machine_info["ff_bench"]`` (see :mod:`ff_algos.telemetry.machine`, whose key names are read
here); any of them may be missing or null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ff_algos.telemetry import units


def ff_bench(machine_info: Mapping[str, Any]) -> dict[str, Any]:
    """The suite's own machine facts; empty when the run has none."""
    value = machine_info.get("ff_bench")
    return dict(value) if isinstance(value, Mapping) else {}


def cpu_model(machine_info: Mapping[str, Any]) -> str | None:
    """The CPU's model name, from the suite's facts or pytest-benchmark's cpuinfo."""
    cpu = machine_info.get("cpu")
    brand = cpu.get("brand_raw") if isinstance(cpu, Mapping) else None
    model = ff_bench(machine_info).get("cpu_model") or brand
    return str(model) if model else None


def cpu_text(machine_info: Mapping[str, Any]) -> str:
    """``AMD EPYC 7B13, 2 cores, 24 GiB``."""
    facts = ff_bench(machine_info)
    cpu = machine_info.get("cpu")
    cores = (
        facts.get("cpu_cores_usable")
        or facts.get("cpu_cores_logical")
        or (cpu.get("count") if isinstance(cpu, Mapping) else None)
    )
    memory = facts.get("memory_total_bytes")
    parts = [cpu_model(machine_info) or units.NA]
    if cores:
        parts.append(f"{cores} cores")
    if isinstance(memory, int | float) and not isinstance(memory, bool):
        parts.append(units.nbytes(memory))
    return ", ".join(parts)


def gpu_text(machine_info: Mapping[str, Any]) -> str:
    """``NVIDIA H100 80GB HBM3, driver 550.54, CUDA 12.4, cuDNN 90100``, or ``none``."""
    facts = ff_bench(machine_info)
    name = facts.get("gpu_name")
    if not name:
        return "none"
    count = facts.get("gpu_count")
    parts = [f"{name}" + (f" x{count}" if isinstance(count, int) and count > 1 else "")]
    for key, label in (("driver_version", "driver"), ("cuda_runtime", "CUDA"), ("cudnn", "cuDNN")):
        value = facts.get(key)
        if value is not None:
            parts.append(f"{label} {value}")
    return ", ".join(parts)


def software_text(machine_info: Mapping[str, Any], pytest_benchmark: str) -> str:
    """``torch 2.14.1, torchvision 0.29.1, pytest-benchmark 5.3.1``."""
    facts = ff_bench(machine_info)
    parts = [f"{key} {facts[key]}" for key in ("torch", "torchvision") if facts.get(key)]
    if pytest_benchmark:
        parts.append(f"pytest-benchmark {pytest_benchmark}")
    return ", ".join(parts) or units.NA


def commit_text(machine_info: Mapping[str, Any], commit_info: Mapping[str, Any]) -> str:
    """The first 10 characters of the git commit, with ``(dirty)`` for uncommitted changes."""
    facts = ff_bench(machine_info)
    commit = facts.get("git_commit") or commit_info.get("id")
    if not commit:
        return units.NA
    dirty = facts.get("git_dirty")
    if dirty is None:
        dirty = commit_info.get("dirty")
    return str(commit)[:10] + (" (dirty)" if dirty else "")

"""Facts about this machine for pytest-benchmark's ``pytest_benchmark_update_machine_info`` hook.

:func:`machine_info` never raises: each value it cannot find is None with a one-line reason
under ``"unavailable"`` (keyed like the value). Keys are chosen not to clash with the ones
pytest-benchmark fills itself ("cpu", "python_version", ...). Use it from ``conftest.py``::

    def pytest_benchmark_update_machine_info(config, machine_info):
        machine_info.update(ff_algos.telemetry.machine_info(device=torch.device("cuda:0")))

``"device"`` describes the device the cases run on when one is named (reasons for its missing
values are under ``"unavailable"`` as ``"device.<key>"``); the GPU keys describe all GPUs.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from ff_algos.data.files import describe
from ff_algos.telemetry.gpu_probe import probe_gpus
from ff_algos.telemetry.nvml import find_cuda_gpu, load_nvml, release_nvml
from ff_algos.telemetry.sync import is_cuda, resolve

CPUINFO = Path("/proc/cpuinfo")
MEMINFO = Path("/proc/meminfo")
GIT_TIMEOUT_S = 10.0

MACHINE_KEYS = (
    "gpu_source",
    "gpu_count",
    "gpu_names",
    "gpu_name",
    "driver_version",
    "cuda_driver_version",
    "nvml_available",
    "torch",
    "cuda_runtime",
    "cudnn",
    "torchvision",
    "numpy",
    "nvidia_ml_py",
    "cpu_model",
    "cpu_cores_physical",
    "cpu_cores_logical",
    "cpu_cores_usable",
    "torch_threads",
    "memory_total_bytes",
    "git_commit",
    "git_dirty",
    "device",
)


def _package_root() -> Path:
    # the directory holding the ff_algos package: the repository root in a source checkout
    return Path(__file__).resolve().parents[2]


class _Facts:
    """Collects values; a None value must come with its reason."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.unavailable: dict[str, str] = {}

    def put(self, key: str, value: Any, reason: str | None = None) -> None:
        self.values[key] = value
        if value is None:
            self.unavailable[key] = reason or "unknown"

    def result(self) -> dict[str, Any]:
        for key in MACHINE_KEYS:  # a probe that failed part-way still leaves every key
            if key not in self.values:
                self.put(key, None, "its probe failed (see the other reasons)")
        return {**self.values, "unavailable": dict(self.unavailable)}


def _gpu(facts: _Facts) -> None:
    inventory, reasons = probe_gpus()
    facts.put("gpu_source", inventory.source)
    facts.put("gpu_count", inventory.count)
    facts.put("gpu_names", list(inventory.names))
    why_no_gpu = "; ".join(f"{k}: {v}" for k, v in reasons.items()) or "no GPU found"
    name = None
    if inventory.names:
        distinct = sorted(set(inventory.names))
        name = distinct[0] if len(distinct) == 1 else " + ".join(distinct)
    facts.put("gpu_name", name, why_no_gpu)
    no_driver = why_no_gpu if inventory.source == "none" else f"not known to {inventory.source}"
    facts.put("driver_version", inventory.driver_version, reasons.get("nvml", no_driver))
    facts.put(
        "cuda_driver_version",
        inventory.cuda_driver_version,
        reasons.get("cuda_driver_version", reasons.get("nvml", no_driver)),
    )
    facts.put("nvml_available", "nvml" not in reasons)
    if "nvml" in reasons:
        facts.unavailable["nvml"] = reasons["nvml"]


def _software(facts: _Facts) -> None:
    facts.put("torch", torch.__version__)
    facts.put("cuda_runtime", torch.version.cuda, "this torch build has no CUDA runtime")
    cudnn = None
    reason = "cuDNN is not available to this torch build"
    try:
        if torch.backends.cudnn.is_available():  # type: ignore[no-untyped-call]
            cudnn = torch.backends.cudnn.version()  # type: ignore[no-untyped-call]
    except Exception as e:
        reason = f"cuDNN query failed ({describe(e)})"
    facts.put("cudnn", cudnn, reason)
    for package in ("torchvision", "numpy", "nvidia-ml-py"):
        key = package.replace("-", "_")
        try:
            facts.put(key, metadata.version(package))
        except metadata.PackageNotFoundError:
            facts.put(key, None, f"{package} is not installed")


def _cpu(facts: _Facts) -> None:
    model = None
    physical: int | None = None
    reason = f"{CPUINFO} has no model name"
    try:
        cpuinfo = CPUINFO.read_text()
    except OSError as e:
        cpuinfo = ""
        reason = f"cannot read {CPUINFO} ({describe(e)})"
    model = _model_name(cpuinfo)
    cores = _physical_cores(cpuinfo)
    if cores:
        physical = cores
    facts.put("cpu_model", model, reason)
    facts.put("cpu_cores_physical", physical, f"{CPUINFO} lists no physical/core ids")
    facts.put("cpu_cores_logical", os.cpu_count(), "os.cpu_count() is unknown")
    usable = None
    if hasattr(os, "sched_getaffinity"):
        usable = len(os.sched_getaffinity(0))
    facts.put("cpu_cores_usable", usable, "os.sched_getaffinity is not available here")
    facts.put("torch_threads", torch.get_num_threads())


def _model_name(cpuinfo: str) -> str | None:
    found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    if found:
        return found.group(1).strip()
    return platform.processor() or None


def cpu_model() -> str | None:
    """The host CPU's model name (``/proc/cpuinfo``, else ``platform.processor()``), or None."""
    try:
        return _model_name(CPUINFO.read_text())
    except OSError:
        return platform.processor() or None


def _physical_cores(cpuinfo: str) -> int:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo text (0 when it lists none)."""
    cores: set[tuple[str, str]] = set()
    package = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            package = value.strip()
        elif key == "core id":
            cores.add((package, value.strip()))
    return len(cores)


def _memory(facts: _Facts) -> None:
    total = None
    reason = ""
    try:
        found = re.search(r"^MemTotal:\s+(\d+)\s+kB", MEMINFO.read_text(), re.MULTILINE)
        if found:
            total = int(found.group(1)) * 1024
        else:
            reason = f"{MEMINFO} has no MemTotal"
    except OSError as e:
        reason = f"cannot read {MEMINFO} ({describe(e)})"
    if total is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError) as e:
            reason += f"; os.sysconf failed ({describe(e)})"
    facts.put("memory_total_bytes", total, reason)


def _git(args: list[str], repo: Path) -> str:
    done = subprocess.run(
        ["git", "--no-optional-locks", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise RuntimeError(f"git {args[0]} failed: {message}")
    return done.stdout


@dataclass(frozen=True)
class GitState:
    """The commit a checkout's code came from and whether tracked files differ from it; both
    None, with ``reason``, where git or the repository is missing."""

    commit: str | None
    dirty: bool | None
    reason: str = ""


def git_state(repo: Path | None = None) -> GitState:
    """``repo``'s HEAD and dirty flag now (``repo`` defaults to the checkout holding this
    package). A session reads it when it starts: its code is that commit's even if HEAD moves
    during hours of training."""
    repo = repo or _package_root()
    try:
        commit = _git(["rev-parse", "HEAD"], repo).strip()
        # tracked changes only, as ``git describe --dirty`` (pytest-benchmark's commit_info):
        # the runs and reports a session writes into the checkout do not make its code dirty
        status = _git(["status", "--porcelain", "--untracked-files=no"], repo)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        return GitState(None, None, f"no git commit for {repo} ({describe(e)})")
    return GitState(commit, bool(status.strip()))


def _commit(facts: _Facts, state: GitState) -> None:
    facts.put("git_commit", state.commit, state.reason)
    facts.put("git_dirty", state.dirty, state.reason)


CUDA_DEVICE_KEYS = (
    "name",
    "uuid",
    "total_memory_bytes",
    "compute_capability",
    "multiprocessors",
    "nvml_match",
    "power_limit_w",
)


def _cuda_device(device: torch.device, entry: dict[str, Any], missing: dict[str, str]) -> None:
    props = torch.cuda.get_device_properties(device)
    entry["name"] = str(props.name)
    raw_uuid = getattr(props, "uuid", None)
    entry["uuid"] = None if raw_uuid is None else f"GPU-{raw_uuid}"
    if raw_uuid is None:
        missing["uuid"] = "this torch does not report GPU UUIDs"
    entry["total_memory_bytes"] = int(props.total_memory)
    entry["compute_capability"] = f"{props.major}.{props.minor}"
    entry["multiprocessors"] = int(props.multi_processor_count)
    nvml, reason = load_nvml()
    if nvml is None:
        missing["power_limit_w"] = missing["nvml_match"] = reason or "NVML unavailable"
        return
    try:
        gpu, reason = find_cuda_gpu(nvml, device)
        if gpu is None:
            missing["power_limit_w"] = missing["nvml_match"] = reason or "GPU not found in NVML"
            return
        entry["nvml_match"] = gpu.found_by
        try:
            entry["power_limit_w"] = gpu.power_limit_w()
        except Exception as e:
            missing["power_limit_w"] = f"NVML could not report it ({describe(e)})"
    finally:
        release_nvml(nvml)


def _device(facts: _Facts, device: torch.device | str | None) -> None:
    if device is None:
        facts.put("device", None, "no device named (pass machine_info(device=...))")
        return
    missing: dict[str, str] = {}
    try:
        resolved = resolve(device)
    except Exception as e:  # a bare "cuda" without a usable GPU
        resolved = torch.device(device)
        missing["index"] = f"torch could not resolve {device} ({describe(e)})"
    entry: dict[str, Any] = {"type": resolved.type, "index": resolved.index, "name": None}
    unknown = "unknown"
    if is_cuda(resolved):
        entry.update(dict.fromkeys(CUDA_DEVICE_KEYS))
        try:
            _cuda_device(resolved, entry, missing)
        except Exception as e:
            unknown = f"torch could not describe {resolved} ({describe(e)})"
    elif resolved.type == "cpu":
        entry["name"] = cpu_model()
        entry["torch_threads"] = torch.get_num_threads()
        missing["index"] = "a CPU device has no index"
        missing["name"] = f"{CPUINFO} has no model name"
    else:
        missing["name"] = f"no description for {resolved.type} devices"
    facts.put("device", entry)
    for key, value in entry.items():
        if value is None:
            facts.unavailable[f"device.{key}"] = missing.get(key, unknown)


def machine_info(
    repo: Path | None = None,
    *,
    device: torch.device | str | None = None,
    git: GitState | None = None,
) -> dict[str, Any]:
    """GPU, driver, CUDA, cuDNN, library versions, CPU, memory and git commit of ``repo``.

    ``repo`` defaults to the checkout holding this package. ``device`` (for example
    ``cuda:1``) adds a ``"device"`` entry describing it: for a GPU its name, index, UUID, total
    memory, compute capability, multiprocessors, NVML match and enforced power limit in watts;
    for the CPU its model. ``git``: the commit to record (:func:`git_state`, read when the
    session started); None reads ``repo``'s now. Never raises; missing values are None with
    reasons under ``"unavailable"``. Every value is JSON-serialisable.
    """
    facts = _Facts()
    for collect in (_gpu, _software, _cpu, _memory):
        try:
            collect(facts)
        except Exception as e:  # one broken probe must not lose the rest
            facts.unavailable[collect.__name__.strip("_")] = f"probe failed ({describe(e)})"
    try:
        _device(facts, device)
    except Exception as e:
        facts.put("device", None, f"probe failed ({describe(e)})")
    _commit(facts, git or git_state(repo))
    return facts.result()

"""machine_info: every key, JSON-safe, no exceptions, reasons for each missing value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ff_algos.telemetry import MACHINE_KEYS, GpuInventory, machine_info, probe_gpus
from ff_algos.telemetry.machine import _physical_cores
from tests.git_repo import commit_file


def test_machine_info_has_every_key_and_reasons() -> None:
    info = machine_info()
    assert set(info) == {*MACHINE_KEYS, "unavailable"}
    json.dumps(info)
    for key in MACHINE_KEYS:
        if info[key] is None:
            assert info["unavailable"][key], key
    assert info["torch"] == torch.__version__
    assert info["cpu_cores_logical"] >= 1
    assert info["memory_total_bytes"] > 0
    if not info["nvml_available"]:
        assert info["unavailable"]["nvml"]
    if info["gpu_count"] == 0:
        assert info["gpu_source"] == "none"
        assert info["gpu_name"] is None
    assert "device" in MACHINE_KEYS


def test_git_commit_of_this_checkout_or_reason() -> None:
    info = machine_info()
    if info["git_commit"] is not None:
        assert len(info["git_commit"]) == 40
        assert isinstance(info["git_dirty"], bool)
    else:
        assert "git" in info["unavailable"]["git_commit"]


def test_dirty_means_tracked_changes_not_written_outputs(tmp_path: Path) -> None:
    commit_file(tmp_path, "x = 1\n")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "0001_run.json").write_text("{}")  # what a session saves
    assert machine_info(repo=tmp_path)["git_dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert machine_info(repo=tmp_path)["git_dirty"] is True


def test_not_a_repository_gives_reason(tmp_path: Path) -> None:
    info = machine_info(repo=tmp_path)
    assert info["git_commit"] is None
    assert info["git_dirty"] is None
    assert str(tmp_path) in info["unavailable"]["git_commit"]


def test_provider_chain_order_and_reasons() -> None:
    seen: list[str] = []

    def first(reasons: dict[str, str]) -> GpuInventory | None:
        seen.append("first")
        reasons["first"] = "not here"
        return None

    def second(reasons: dict[str, str]) -> GpuInventory | None:
        seen.append("second")
        return GpuInventory("second", 2, ("A", "B"), None, None)

    def third(reasons: dict[str, str]) -> GpuInventory | None:
        seen.append("third")
        return None

    inventory, reasons = probe_gpus((first, second, third))
    assert inventory.source == "second"
    assert seen == ["first", "second"]
    assert reasons == {"first": "not here"}
    inventory, _ = probe_gpus((first,))
    assert inventory.source == "none"


def test_physical_cores_from_cpuinfo() -> None:
    text = "\n".join(
        f"processor\t: {i}\nphysical id\t: {i // 4}\nsiblings\t: 4\ncore id\t\t: {i % 2}\n"
        for i in range(8)
    )
    assert _physical_cores(text) == 4  # 2 packages x 2 cores, each with 2 hardware threads
    assert _physical_cores("processor : 0\n") == 0


def test_cpu_device_entry_names_the_cpu_model() -> None:
    info = machine_info(device=torch.device("cpu"))
    json.dumps(info)
    device = info["device"]
    assert device["type"] == "cpu"
    assert device["index"] is None
    assert info["unavailable"]["device.index"]
    assert device["name"] == info["cpu_model"]
    if device["name"] is None:
        assert info["unavailable"]["device.name"]
    assert device["torch_threads"] == torch.get_num_threads()


def test_no_device_named_gives_reason() -> None:
    info = machine_info()
    assert info["device"] is None
    assert "device=" in info["unavailable"]["device"]


def test_unusable_cuda_device_gives_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_gpu(device: object) -> object:
        raise RuntimeError("Found no NVIDIA driver")

    monkeypatch.setattr(torch.cuda, "get_device_properties", no_gpu)
    info = machine_info(device=torch.device("cuda:2"))
    device = info["device"]
    assert (device["type"], device["index"]) == ("cuda", 2)
    for key in ("name", "uuid", "total_memory_bytes", "power_limit_w"):
        assert device[key] is None
        assert "Found no NVIDIA driver" in info["unavailable"][f"device.{key}"]

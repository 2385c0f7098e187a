"""precision_state: the TF32 flags, matmul precision and overrides, and the effective_tf32 rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import torch

import ff_algos.telemetry.matmul_precision as precision_module
from ff_algos.telemetry import precision_state
from ff_algos.telemetry.matmul_precision import NVIDIA_OVERRIDE, TORCH_OVERRIDE, effective_tf32

CUDA = torch.device("cuda:0")


@pytest.fixture(autouse=True)
def restore_flags(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Put torch's precision settings back as they were; start with no overrides set."""
    monkeypatch.delenv(NVIDIA_OVERRIDE, raising=False)
    monkeypatch.delenv(TORCH_OVERRIDE, raising=False)
    precision = torch.get_float32_matmul_precision()
    cudnn = torch.backends.cudnn.allow_tf32
    yield
    torch.set_float32_matmul_precision(precision)
    torch.backends.cudnn.allow_tf32 = cudnn


@pytest.fixture
def ampere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the CUDA device is compute capability 8.0 (no GPU needed)."""
    monkeypatch.setattr(precision_module, "_capability", lambda device: "8.0")


def test_cpu_state_is_recorded_without_an_effective_tf32() -> None:
    state = precision_state(torch.device("cpu"))
    json.dumps(state)
    assert state["float32_matmul_precision"] == torch.get_float32_matmul_precision()
    assert state["effective_tf32"] is None
    assert "TF32" in state["unavailable"]["effective_tf32"]
    assert state[NVIDIA_OVERRIDE] is None
    assert state["unavailable"][NVIDIA_OVERRIDE] == "not set"
    for key, value in state.items():
        if value is None:
            assert state["unavailable"][key], key


@pytest.mark.usefixtures("ampere")
def test_highest_precision_means_no_tf32() -> None:
    torch.set_float32_matmul_precision("highest")
    state = precision_state(CUDA)
    assert state["matmul_allow_tf32"] is False
    assert state["compute_capability"] == "8.0"
    assert state["effective_tf32"] is False


@pytest.mark.usefixtures("ampere")
@pytest.mark.parametrize("precision", ["high", "medium"])
def test_reduced_matmul_precision_means_tf32(precision: str) -> None:
    torch.set_float32_matmul_precision(precision)
    state = precision_state(CUDA)
    assert state["float32_matmul_precision"] == precision
    assert state["matmul_allow_tf32"] is True
    assert state["effective_tf32"] is True


@pytest.mark.usefixtures("ampere")
def test_torch_override_turns_tf32_on(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_float32_matmul_precision("highest")
    monkeypatch.setenv(TORCH_OVERRIDE, "1")
    state = precision_state(CUDA)
    assert state[TORCH_OVERRIDE] == "1"
    assert state["effective_tf32"] is True


@pytest.mark.usefixtures("ampere")
def test_nvidia_override_zero_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_float32_matmul_precision("high")
    monkeypatch.setenv(TORCH_OVERRIDE, "1")
    monkeypatch.setenv(NVIDIA_OVERRIDE, "0")
    state = precision_state(CUDA)
    assert state[NVIDIA_OVERRIDE] == "0"
    assert state["effective_tf32"] is False


def test_pre_ampere_gpu_has_no_tf32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision_module, "_capability", lambda device: "7.0")
    torch.set_float32_matmul_precision("high")
    assert precision_state(CUDA)["effective_tf32"] is False


def test_cudnn_flag_is_recorded() -> None:
    torch.backends.cudnn.allow_tf32 = False
    assert precision_state(torch.device("cpu"))["cudnn_allow_tf32"] is False
    torch.backends.cudnn.allow_tf32 = True
    assert precision_state(torch.device("cpu"))["cudnn_allow_tf32"] is True


def test_unreadable_torch_setting_is_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> bool:
        raise RuntimeError("mix of the legacy and new APIs")

    monkeypatch.setattr(precision_module, "_matmul_allow_tf32", refuse)
    state = precision_state(torch.device("cpu"))
    assert state["matmul_allow_tf32"] is None
    assert "legacy and new APIs" in state["unavailable"]["matmul_allow_tf32"]


def test_rule_without_any_readable_setting_is_unknown() -> None:
    unknown: dict[str, Any] = {
        "matmul_allow_tf32": None,
        "matmul_fp32_precision": None,
        "float32_matmul_precision": None,
    }
    value, reason = effective_tf32(unknown, cuda=True)
    assert value is None
    assert reason
    assert effective_tf32({**unknown, "matmul_fp32_precision": "tf32"}, cuda=True) == (True, None)
    assert effective_tf32({**unknown, TORCH_OVERRIDE: "1"}, cuda=True) == (True, None)

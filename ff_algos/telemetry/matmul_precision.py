"""The float32 matmul precision that really runs: TF32 flags, the matmul precision setting and
the environment overrides, read at measurement time.

Rule for ``effective_tf32`` (may float32 matmuls on this CUDA device use reduced-precision
tensor-core math: TF32, or bfloat16 under precision "medium"), first match wins:

1. ``NVIDIA_TF32_OVERRIDE=0``: False. The CUDA libraries then never use TF32, whatever torch
   asks (other values of the variable have no effect).
2. A GPU older than compute capability 8.0 (pre-Ampere): False; it has no TF32.
3. ``TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1``: True; torch enables TF32 for cuBLAS regardless.
4. ``torch.backends.cuda.matmul.allow_tf32``, ``torch.backends.cuda.matmul.fp32_precision ==
   "tf32"`` or ``torch.get_float32_matmul_precision() != "highest"``: True.
5. Otherwise False; None when none of the torch settings could be read.

Off CUDA ``effective_tf32`` is None (TF32 is a CUDA tensor-core mode). Torch refuses to read
the legacy flags after the newer ``fp32_precision`` API set them, so each value that cannot be
read is None with its reason under ``unavailable``, as is each unset environment variable.
The cuDNN flag is recorded but not part of the rule: it governs convolutions, not matmuls.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from ff_algos.data.files import describe
from ff_algos.telemetry.sync import is_cuda

NVIDIA_OVERRIDE = "NVIDIA_TF32_OVERRIDE"
TORCH_OVERRIDE = "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE"


def _matmul_allow_tf32() -> bool:
    return bool(torch.backends.cuda.matmul.allow_tf32)


def _matmul_fp32_precision() -> str:
    return str(torch.backends.cuda.matmul.fp32_precision)


def _cudnn_allow_tf32() -> bool:
    return bool(torch.backends.cudnn.allow_tf32)


def _capability(device: torch.device) -> str:
    major, minor = torch.cuda.get_device_capability(device)
    return f"{major}.{minor}"


def effective_tf32(state: dict[str, Any], *, cuda: bool) -> tuple[bool | None, str | None]:
    """The module docstring's rule over a :func:`precision_state` dict: ``(value, reason)``."""
    if not cuda:
        return None, "not a CUDA device; TF32 is a CUDA tensor-core mode"
    if state.get(NVIDIA_OVERRIDE) == "0":
        return False, None
    capability = state.get("compute_capability")
    if capability is not None and int(str(capability).split(".")[0]) < 8:
        return False, None
    if state.get(TORCH_OVERRIDE) == "1":
        return True, None
    allow = state.get("matmul_allow_tf32")
    fp32 = state.get("matmul_fp32_precision")
    precision = state.get("float32_matmul_precision")
    if allow is True or fp32 == "tf32" or precision not in (None, "highest"):
        return True, None
    if allow is None and fp32 is None and precision is None:
        return None, "torch reported none of its TF32 settings"
    return False, None


def precision_state(device: torch.device) -> dict[str, Any]:
    """The TF32 and float32-matmul settings in force for work on ``device`` (JSON-safe).

    Keys: ``matmul_allow_tf32``, ``matmul_fp32_precision``, ``cudnn_allow_tf32``,
    ``float32_matmul_precision``, ``TORCH_ALLOW_TF32_CUBLAS_OVERRIDE``, ``NVIDIA_TF32_OVERRIDE``,
    ``compute_capability``, ``effective_tf32`` (see the module docstring for its rule) and
    ``unavailable`` (reasons for None values). Never raises.
    """
    device = torch.device(device)
    state: dict[str, Any] = {}
    unavailable: dict[str, str] = {}

    def put(key: str, read: Callable[[], Any]) -> None:
        try:
            state[key] = read()
        except Exception as e:
            state[key] = None
            unavailable[key] = f"torch could not report it ({describe(e)})"

    put("matmul_allow_tf32", _matmul_allow_tf32)
    put("matmul_fp32_precision", _matmul_fp32_precision)
    put("cudnn_allow_tf32", _cudnn_allow_tf32)
    put("float32_matmul_precision", torch.get_float32_matmul_precision)
    for name in (TORCH_OVERRIDE, NVIDIA_OVERRIDE):
        state[name] = os.environ.get(name)
        if state[name] is None:
            unavailable[name] = "not set"

    if is_cuda(device):
        put("compute_capability", lambda: _capability(device))
    else:
        state["compute_capability"] = None
        unavailable["compute_capability"] = f"device is {device.type}, not CUDA"

    effective, why = effective_tf32(state, cuda=is_cuda(device))
    if why is not None:
        unavailable["effective_tf32"] = why
    state["effective_tf32"] = effective
    state["unavailable"] = unavailable
    return state

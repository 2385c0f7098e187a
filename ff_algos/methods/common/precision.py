"""Numeric precision of a training run: what ``precision=fp32|tf32|bf16`` means on each device.

* ``fp32``: float32 everywhere; TF32 tensor cores are switched *off* for the run (matmul and
  cuDNN), so the default is the study's arithmetic whatever the process had set before.
* ``tf32``: float32 storage, matrix products on TF32 tensor cores (CUDA only).
* ``bf16``: float32 master weights, gradients and optimiser state; the matrix products run on
  bfloat16 operands (explicit casts in FF's fast path, ``torch.autocast`` in backprop).

:func:`precision_scope` sets the global matmul flags for the duration of a run and restores them;
what really ran (environment overrides included) is recorded by
:func:`ff_algos.telemetry.precision_state`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import torch

from ff_algos.errors import PrecisionError

Precision = Literal["fp32", "tf32", "bf16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "tf32", "bf16")


def check_precision(precision: str, device: torch.device) -> None:
    """Raise :class:`PrecisionError` for a precision unknown or unusable on ``device``."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision={precision!r} is unknown; choose one of fp32, tf32, bf16")
    if precision == "tf32" and device.type != "cuda":
        raise PrecisionError(
            f"precision=tf32 needs a CUDA device (TF32 tensor cores), not {device.type}; "
            "use --set precision=bf16 or fp32"
        )


def product_dtype(precision: str) -> torch.dtype | None:
    """The dtype matrix-product operands are cast to, or None to keep the storage dtype."""
    return torch.bfloat16 if precision == "bf16" else None


@contextmanager
def precision_scope(precision: str, device: torch.device) -> Iterator[None]:
    """Set the float32 matmul mode that ``precision`` needs on ``device`` for the block."""
    check_precision(precision, device)
    if device.type != "cuda":
        yield
        return
    before = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    tf32 = precision == "tf32"
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]


def cpu_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX); None where unknown.
    Without it, bf16 products are emulated and run slower than float32."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def eager_options(precision: str, compile_mode: str) -> dict[str, object]:
    """The run options every eager, tensor-fed method records (``Fitted.options``): no
    compilation or graph capture, products in ``precision``, prediction in float32."""
    low = product_dtype(precision)
    return {
        "compile": compile_mode,
        "compiled": False,
        "cuda_graphs": False,
        "compile_seconds": 0.0,
        "precision": precision,
        "product_dtype": str(low or torch.float32).removeprefix("torch."),
        "predict_dtype": "float32",
        "input_pipeline": "tensor",
    }

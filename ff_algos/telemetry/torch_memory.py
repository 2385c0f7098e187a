"""Peak memory allocated by the torch CUDA caching allocator (tensors only, not the cache)."""

from __future__ import annotations

import torch

from ff_algos.telemetry.sync import is_cuda


def reset_torch_peak(device: torch.device) -> None:
    """Start a new peak: later reads report the maximum allocated from now on (CUDA only)."""
    if is_cuda(device):
        torch.cuda.reset_peak_memory_stats(device)


def read_torch_peak(device: torch.device) -> tuple[int | None, str | None]:
    """``(peak_bytes, None)`` since the last reset, or ``(None, reason)`` off CUDA."""
    if not is_cuda(device):
        return None, f"device is {device.type}; the torch allocator peak is tracked on CUDA only"
    return int(torch.cuda.max_memory_allocated(device)), None

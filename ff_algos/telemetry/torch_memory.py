"""Peak memory allocated by the torch CUDA caching allocator (tensors only, not the cache), and
releasing the allocator's cached blocks."""

from __future__ import annotations

import gc

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


def release_cached_memory(device: torch.device) -> None:
    """Collect garbage and return ``device``'s cached, unused CUDA blocks to the driver.

    ``torch.cuda.empty_cache`` acts on the current device, so it runs with ``device`` made
    current. A no-op beyond ``gc.collect`` off CUDA. Call it after untimed work (a warm-up) so
    its cached blocks do not inflate the NVML memory of the measured run.
    """
    gc.collect()
    if is_cuda(device):
        with torch.cuda.device(device):
            torch.cuda.empty_cache()

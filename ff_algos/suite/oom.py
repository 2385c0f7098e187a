"""What to say when a case runs out of device memory."""

from __future__ import annotations

from typing import Any

import torch


def memory_report(device: torch.device) -> dict[str, Any]:
    """The allocator's figures at the failure, and a one-line summary of them; frees cached
    blocks afterwards so the next case starts clean."""
    if device.type != "cuda":
        return {"summary": f"the {device.type} device ran out of memory"}
    gib = 2**30
    peak = torch.cuda.max_memory_allocated(device)
    reserved = torch.cuda.memory_reserved(device)
    free, total = torch.cuda.mem_get_info(device)
    with torch.cuda.device(device):  # empty_cache acts on the current device
        torch.cuda.empty_cache()
    return {
        "torch_peak_bytes": peak,
        "torch_reserved_bytes": reserved,
        "device_free_bytes": free,
        "device_total_bytes": total,
        "summary": (
            f"peak allocated {peak / gib:.2f} GiB, reserved {reserved / gib:.2f} GiB, "
            f"free {free / gib:.2f} of {total / gib:.2f} GiB; try --set batch_size=N "
            "or --set train_size=N"
        ),
    }

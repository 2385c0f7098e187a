"""Device synchronisation: the one place that decides whether a host clock needs a device sync."""

from __future__ import annotations

import torch


def is_cuda(device: torch.device) -> bool:
    """Whether work on ``device`` runs asynchronously on a CUDA GPU."""
    return device.type == "cuda"


def resolve(device: torch.device | str) -> torch.device:
    """``device`` as a :class:`torch.device`; a bare ``"cuda"`` gets the current device's index.

    Resolving the index queries CUDA, so call this when measuring starts, never at import.
    """
    dev = torch.device(device)
    if is_cuda(dev) and dev.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return dev


def synchronize(device: torch.device) -> None:
    """Wait for all queued work on ``device``; a no-op for devices that run synchronously."""
    if is_cuda(device):
        torch.cuda.synchronize(device)

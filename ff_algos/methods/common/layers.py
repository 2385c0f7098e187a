"""Seeded layers: the same seed gives the same initial weights on every device."""

from __future__ import annotations

import math

import torch
from torch import nn


def seeded_linear(
    in_features: int,
    out_features: int,
    generator: torch.Generator,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> nn.Linear:
    """An ``nn.Linear`` initialised as PyTorch's default (weight and bias uniform in
    ±1/sqrt(in_features)) but drawn from ``generator`` on the CPU, so that the same seed gives the
    same initial weights on every device and the global RNG is left alone."""
    bound = 1.0 / math.sqrt(in_features)
    weight = (torch.rand(out_features, in_features, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(out_features, generator=generator) * 2 - 1) * bound
    layer = nn.Linear(in_features, out_features, device="meta")
    layer.weight = nn.Parameter(weight.to(device=device, dtype=dtype))
    layer.bias = nn.Parameter(bias.to(device=device, dtype=dtype))
    return layer

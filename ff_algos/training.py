"""What Forward-Forward and backprop training share: seeded layer initialisation and a loss log
that stays on the device, checked for divergence only every few epochs.

Training loops must not synchronise the device once per step (no ``.item()``); :class:`LossLog`
keeps every epoch's mean loss in a device tensor, and :meth:`LossLog.check` costs one host read,
called every ``nan_check_every`` epochs and at the end of a phase.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ff_algos.errors import FFBenchError


class DivergenceError(FFBenchError, FloatingPointError):
    """Training produced a non-finite loss (usually a learning rate that is too large)."""


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


class LossLog:
    """Per-epoch mean losses of one phase, held on the device until :meth:`host` reads them once."""

    def __init__(self, phase: str, epochs: int, lr: float, device: torch.device) -> None:
        self.phase = phase
        self.lr = lr
        self._values = torch.zeros(epochs, device=device)
        self._checked = 0  # epochs [0, _checked) are known finite

    def record(self, epoch: int, loss: Tensor) -> None:
        """Store epoch ``epoch``'s mean loss (a 0-d tensor); queues a copy, never syncs."""
        self._values[epoch] = loss.detach()

    def check(self, upto: int) -> None:
        """Raise :class:`DivergenceError` if any loss of epochs before ``upto`` is not finite
        (one host read)."""
        if upto <= self._checked:
            return
        window = self._values[self._checked : upto]
        if not bool(torch.isfinite(window).all()):
            bad = int(torch.nonzero(~torch.isfinite(window))[0, 0]) + self._checked
            raise DivergenceError(
                f"{self.phase}: loss became non-finite at epoch {bad + 1} (checked epochs "
                f"{self._checked + 1}-{upto}) with lr={self.lr:g}; lower the learning rate, "
                "e.g. --set lr=..."
            )
        self._checked = upto

    def host(self) -> list[float]:
        """All epochs' losses as Python floats (one device-to-host copy)."""
        values: list[float] = self._values.cpu().tolist()
        return values

"""Running memory peaks for nested measurement windows.

The torch allocator peak and the host RSS peak are process-wide counters, and each window resets
them when it opens. So that an enclosing window (say "end_to_end" around "train") still sees
the true maximum, the current peaks are folded into every open window before each reset and
when a window closes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ff_algos.telemetry.host_memory import read_peak_rss, reset_peak_rss
from ff_algos.telemetry.torch_memory import read_torch_peak, reset_torch_peak


@dataclass(frozen=True)
class PeakReading:
    """Peaks over one window; a None value has its reason beside it."""

    torch_peak_bytes: int | None
    torch_reason: str | None
    host_peak_rss_bytes: int | None
    host_source: str
    host_reset_reason: str | None  # None: the host peak was reset when the window opened


class PeakToken:
    """Running peaks of one open window (opaque to callers)."""

    def __init__(self, host_reset_reason: str | None) -> None:
        self.torch_peak: int | None = None
        self.torch_reason: str | None = None
        self.host_peak: int | None = None
        self.host_source = ""
        self.host_reset_reason = host_reset_reason


def _max(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


class PeakTracker:
    """Opens and closes peak windows for one device (not thread-safe)."""

    def __init__(self, device: torch.device) -> None:
        self._device = device
        self._open: list[PeakToken] = []

    def begin(self) -> PeakToken:
        """Fold current peaks into open windows, reset the counters, open a window (a token)."""
        self._fold()
        reset_torch_peak(self._device)
        running = PeakToken(host_reset_reason=reset_peak_rss())
        self._open.append(running)
        return running

    def end(self, token: PeakToken) -> PeakReading:
        """Close the window ``token`` and return its peaks."""
        self._fold()
        if token in self._open:
            self._open.remove(token)
        return PeakReading(
            torch_peak_bytes=token.torch_peak,
            torch_reason=token.torch_reason,
            host_peak_rss_bytes=token.host_peak,
            host_source=token.host_source,
            host_reset_reason=token.host_reset_reason,
        )

    def _fold(self) -> None:
        if not self._open:
            return
        torch_peak, torch_reason = read_torch_peak(self._device)
        host_peak, host_source = read_peak_rss()
        for running in self._open:
            running.torch_peak = _max(running.torch_peak, torch_peak)
            running.torch_reason = None if running.torch_peak is not None else torch_reason
            running.host_peak = _max(running.host_peak, host_peak)
            running.host_source = host_source

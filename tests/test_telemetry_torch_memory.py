"""Releasing cached CUDA memory acts on the case's device, not the current one (faked CUDA)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

import ff_algos.telemetry.peak_flops as peak_flops_module
from ff_algos.telemetry import measure_peak_flops, release_cached_memory


class FakeCuda:
    """Records which device was current whenever empty_cache ran."""

    def __init__(self) -> None:
        self.current: torch.device | None = None
        self.emptied_on: list[torch.device | None] = []

    @contextmanager
    def device(self, device: torch.device) -> Iterator[None]:
        before, self.current = self.current, device
        try:
            yield
        finally:
            self.current = before

    def empty_cache(self) -> None:
        self.emptied_on.append(self.current)


@pytest.fixture
def cuda(monkeypatch: pytest.MonkeyPatch) -> FakeCuda:
    fake = FakeCuda()
    monkeypatch.setattr(torch.cuda, "device", fake.device)
    monkeypatch.setattr(torch.cuda, "empty_cache", fake.empty_cache)
    return fake


def test_release_empties_the_named_device(cuda: FakeCuda, monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[int] = []

    def collect(*args: int) -> int:
        collected.append(1)
        return 0

    monkeypatch.setattr("gc.collect", collect)
    release_cached_memory(torch.device("cuda:1"))
    assert cuda.emptied_on == [torch.device("cuda:1")]
    assert cuda.current is None  # the previous current device is restored
    assert collected == [1]


def test_release_on_cpu_only_collects(cuda: FakeCuda) -> None:
    release_cached_memory(torch.device("cpu"))
    assert cuda.emptied_on == []


def test_peak_measurement_releases_on_its_device(
    cuda: FakeCuda, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peak_flops_module, "_best_rate", lambda device, dtype, n, budget: float(n))
    peak = measure_peak_flops(torch.device("cuda:1"), sizes=(8, 16), budget_s=0.01)
    assert peak.size == 16
    assert cuda.emptied_on == [torch.device("cuda:1")]


def test_real_release_on_this_machine_does_not_raise() -> None:
    release_cached_memory(torch.device("cpu"))
    if torch.cuda.is_available():
        release_cached_memory(torch.device("cuda", torch.cuda.current_device()))

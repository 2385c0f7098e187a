"""--device cuda:N: the suite runs each case with that GPU current (a recorded fake on CPU),
and nothing at all off CUDA."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from ff_algos.suite.bench_case import device_scope


def test_a_cuda_case_runs_with_its_device_current(monkeypatch: pytest.MonkeyPatch) -> None:
    entered: list[torch.device] = []

    @contextmanager
    def fake_device(device: torch.device) -> Iterator[None]:
        entered.append(device)
        yield
        entered.append(torch.device("cpu"))  # marks the exit

    monkeypatch.setattr(torch.cuda, "device", fake_device)
    with device_scope(torch.device("cuda", 2)):
        assert entered == [torch.device("cuda", 2)]
    assert entered == [torch.device("cuda", 2), torch.device("cpu")]


def test_off_cuda_the_scope_touches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(device: torch.device) -> None:
        raise AssertionError("torch.cuda.device called for a CPU case")

    monkeypatch.setattr(torch.cuda, "device", refuse)
    with device_scope(torch.device("cpu")):
        pass

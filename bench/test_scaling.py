"""The scaling benchmark: memory held and time per epoch of FF and backprop as the network gets
deeper and the batch larger (:mod:`ff_algos.scaling`).

    pytest bench/ -k scaling --benchmark-save=NAME

One case per algorithm x batch x depth, in the pytest-benchmark group ``scaling``; the sizes
follow ``--recipe`` (``quick``: depth 2-16, batch 256 and 4096; ``seed``: batch 256 and 60000).
"""

from __future__ import annotations

from typing import Any

import torch

from ff_algos.scaling import ScalingConfig, measure


def test_scaling(benchmark: Any, scaling: ScalingConfig, device: torch.device) -> None:
    benchmark.group = "scaling"
    point = benchmark.pedantic(measure, args=(scaling, device), rounds=1, iterations=1)
    benchmark.extra_info.update(point.to_extra_info())

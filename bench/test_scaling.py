"""The scaling benchmark: memory held and time per epoch of FF and backprop as the network gets
deeper and the batch larger (:mod:`ff_algos.suite.depth_scaling`).

    pytest bench/ -k scaling --benchmark-save=NAME

One case per algorithm x batch x depth, in the pytest-benchmark group ``scaling``; the sizes
follow ``--recipe`` (``quick``: depth 2-16, batch 256 and 4096; ``seed``: batch 256 and 60000).
Each finished case is appended to the results journal like a ``test_fit`` case. Its pytest
parameters are a ``test_fit`` case's (``dataset=synthetic``, ``method`` the algorithm, ``seed``),
so pytest-benchmark's ``--benchmark-group-by=param:NAME`` works on a session holding both.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from ff_algos.suite.bench_case import journal_scaling
from ff_algos.suite.depth_scaling import ScalingConfig, measure
from ff_algos.suite.state import Suite


def test_scaling(
    benchmark: Any,
    dataset: str,
    method: str,
    seed: int,
    scaling: ScalingConfig,
    device: torch.device,
    suite: Suite,
    request: pytest.FixtureRequest,
) -> None:
    benchmark.group = "scaling"
    with journal_scaling(suite, request.node.nodeid, scaling) as record:
        point = benchmark.pedantic(measure, args=(scaling, device), rounds=1, iterations=1)
        record["extra_info"] = point.to_extra_info()
    benchmark.extra_info.update(point.to_extra_info())

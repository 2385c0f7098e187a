"""The benchmark cases: every dataset x method x seed is one full, measured training run.

    pytest bench/ --benchmark-save=NAME

Each case is timed end to end by ``benchmark.pedantic`` (``--rounds`` runs, default 1; no
calibration loop) and carries the full measurement record in ``extra_info``
(:mod:`ff_algos.schema`). It is appended to the results journal as soon as it ends, and fails
when its test accuracy is below the reviewed floor (:mod:`ff_algos.suite.bench_case`).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from ff_algos.suite.bench_case import benchmark_case
from ff_algos.suite.progress import Terminal
from ff_algos.suite.state import Suite
from ff_algos.telemetry import TelemetrySession


def test_fit(
    benchmark: Any,
    suite: Suite,
    device: torch.device,
    telemetry: TelemetrySession,
    terminal: Terminal,
    dataset: str,
    method: str,
    seed: int,
    request: pytest.FixtureRequest,
) -> None:
    benchmark_case(
        benchmark, suite, device, telemetry, terminal, (dataset, method, seed), request.node.nodeid
    )

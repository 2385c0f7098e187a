"""The scaling benchmark: FF's saved-for-backward memory stays flat in depth while backprop's
grows by one activation per layer; its records are saved, read back and reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from rich.console import Console

from ff_algos.record import SCALING_SCHEMA, ScalingPoint
from ff_algos.report.build import make_report
from ff_algos.suite.depth_scaling import ScalingConfig, _cuda_epoch, configs, measure

CPU = torch.device("cpu")
F32 = 4


def _saved(algorithm: str, depth: int, batch: int = 8, width: int = 16) -> int:
    config = ScalingConfig(algorithm, depth, batch, batch, width=width)  # type: ignore[arg-type]
    return measure(config, CPU).saved_for_backward_peak_bytes


def test_ff_memory_is_flat_in_depth_and_backprop_grows_per_layer() -> None:
    ff = [_saved("ff", d) for d in (1, 2, 4)]
    assert ff[0] == ff[1] == ff[2]  # each layer's saved tensors are freed before the next
    bp = [_saved("bp", d) for d in (1, 2, 4)]
    per_layer = 8 * 16 * F32  # one ReLU output (batch 8, width 16) per extra layer
    assert bp[1] - bp[0] == per_layer
    assert bp[2] - bp[1] == 2 * per_layer


def test_a_point_records_time_parameters_and_adam_state() -> None:
    point = measure(ScalingConfig("bp", 2, 4, 12, width=8), CPU)
    assert point.steps == 3
    assert point.epoch_seconds > 0
    params = (784 * 8 + 8) + (8 * 8 + 8) + (8 * 10 + 10)
    assert point.parameter_bytes == params * F32
    assert point.optimizer_state_bytes == 2 * params * F32 + 6 * F32  # moments + step counters
    assert point.allocator_peak_bytes is None  # CUDA only
    assert ScalingPoint.from_extra_info(json.loads(json.dumps(point.to_extra_info()))) == point


def test_configs_follow_the_recipe_and_the_methods() -> None:
    quick = configs("quick", ("ff", "bp", "ff_head"))
    assert {c.algorithm for c in quick} == {"ff", "bp"}
    assert {c.depth for c in quick} == {2, 4, 8, 16}
    assert configs("strong", ("ff",)) == [c for c in quick if c.algorithm == "ff"]
    assert configs("quick", ("ff_head",)) == []


def _run_file(path: Path, points: list[ScalingPoint]) -> None:
    benchmarks = [
        {
            "name": f"test_scaling[{p.algorithm}-batch{p.batch}-depth{p.depth}]",
            "fullname": "bench/test_scaling.py::test_scaling",
            "params": {},
            "stats": {"mean": 1.0, "rounds": 1},
            "extra_info": p.to_extra_info(),
        }
        for p in points
    ]
    run = {"machine_info": {"node": "x"}, "commit_info": {}, "benchmarks": benchmarks}
    run["datetime"] = "2026-11-28T00:00:00+00:00"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(run))


def test_a_scaling_only_run_is_reported(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    points = [
        measure(ScalingConfig(a, d, 4, 4, width=8), CPU) for a in ("ff", "bp") for d in (1, 2)
    ]
    assert {p.schema for p in points} == {SCALING_SCHEMA}
    storage = tmp_path / "storage"
    _run_file(storage / "Linux-CPython-3.11-64bit" / "0001_scaling.json", points)
    result = make_report([], storage, tmp_path / "out", console=Console(file=None, quiet=True))
    assert set(result.figures) == {"scaling_memory.png", "scaling_time.png"}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Scaling with depth" in report


def test_old_scaling_records_read_as_absolute_peaks() -> None:
    config = ScalingConfig("ff", 2, 8, 8)
    point = measure(config, torch.device("cpu"))
    saved = point.to_extra_info()
    assert saved["allocator_peak_basis"] == "above_start"
    assert ScalingPoint.from_extra_info(saved) == point
    del saved["allocator_peak_basis"]  # a record saved before the baseline was subtracted
    assert ScalingPoint.from_extra_info(saved).allocator_peak_basis == "absolute"


class _FakeEvent:
    recorded: ClassVar[list[object]] = []

    def __init__(self, enable_timing: bool = False) -> None:
        self.at = 0.0

    def record(self, stream: object = None) -> None:
        assert stream is not None, "an event must name the device's stream"
        _FakeEvent.recorded.append(stream)
        self.at = 10.0 * len(_FakeEvent.recorded)

    def elapsed_time(self, end: _FakeEvent) -> float:
        return end.at - self.at


def test_cuda_epoch_peak_is_above_its_start_and_events_name_the_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device = torch.device("cuda", 3)
    calls: list[tuple[str, object]] = []
    monkeypatch.setattr(torch.cuda, "Event", _FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: calls.append(("sync", d)))
    monkeypatch.setattr(
        torch.cuda, "reset_peak_memory_stats", lambda d=None: calls.append(("reset", d))
    )
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda d=None: 1000)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d=None: 1800)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda d=None: f"stream of {d}")

    class Net:
        steps = 0

        def step(self, x: object, y: object) -> None:
            Net.steps += 1

    _FakeEvent.recorded.clear()
    seconds, peak = _cuda_epoch(Net(), None, None, 3, device)  # type: ignore[arg-type]
    assert peak == 800  # the epoch's own bytes, not the 1000 already allocated
    assert Net.steps == 3
    assert _FakeEvent.recorded == ["stream of cuda:3", "stream of cuda:3"]
    assert seconds == pytest.approx(0.01)
    assert ("reset", device) in calls
    assert calls.index(("reset", device)) < len(calls) - 1  # reset before the epoch's sync

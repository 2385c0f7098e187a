"""The numbers one case yields, by key: read from ``extra_info`` or derived from it.

Every metric knows its unit (how to print it) and whether lower values are better, so reports
and comparisons treat all of them alike. A metric that was not measured is None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ff_algos.report.cases import Case
from ff_algos.telemetry import units

Unit = Literal["s", "B", "FLOP", "FLOP/s", "W", "J", "J/pt", "acc", "frac"]


@dataclass(frozen=True)
class Metric:
    """One number of a case."""

    key: str
    label: str
    unit: Unit
    get: Callable[[Case], float | None]
    lower_is_better: bool = True

    def show(self, value: float | None) -> str:
        """``value`` printed in this metric's unit."""
        return show(self.unit, value)


def show(unit: Unit, value: float | None) -> str:
    """A value printed in ``unit`` ("n/a" when None)."""
    if unit == "s":
        return units.seconds(value)
    if unit == "B":
        return units.nbytes(value)
    if unit == "acc":
        return units.accuracy(value)
    if unit == "frac":
        return units.percent(value)
    if unit == "J/pt":
        return units.NA if value is None else f"{units.sig(value)} J/pt"
    return units.si(value, unit)


def _num(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def compute_per_epoch(case: Case) -> float | None:
    """Mean compute seconds of one epoch, over every epoch of every phase."""
    return case.record.compute.epoch_mean()


def phase_total(phase: str) -> Callable[[Case], float | None]:
    """A getter for the compute seconds of one phase (None when the case has no such phase)."""
    return lambda case: case.record.compute.phase_total(phase)


def phase_epoch_mean(phase: str) -> Callable[[Case], float | None]:
    """A getter for the mean compute seconds of one epoch of one phase."""
    return lambda case: case.record.compute.phase_epoch_mean(phase)


def torch_peak(window: str) -> Callable[[Case], float | None]:
    """A getter for torch's peak allocated bytes during one window (data, train or eval)."""
    return lambda case: _num(getattr(case.record.memory.torch_peak_bytes, window))


def bench_mean(case: Case) -> float | None:
    """pytest-benchmark's mean over rounds of the end-to-end run."""
    value = case.stats.get("mean")
    return float(value) if isinstance(value, int | float) else None


def _m(
    key: str, label: str, unit: Unit, get: Callable[[Case], float | int | None], low: bool = True
) -> Metric:
    return Metric(key, label, unit, lambda case: _num(get(case)), low)


# each key is the field's dotted name in the saved record (where its null reason is filed)
METRICS: tuple[Metric, ...] = (
    _m("accuracy.train", "train accuracy", "acc", lambda c: c.record.accuracy.train, False),
    _m("accuracy.test", "test accuracy", "acc", lambda c: c.record.accuracy.test, False),
    _m("seconds.end_to_end", "end to end", "s", lambda c: c.record.seconds.end_to_end),
    _m("seconds.data", "data", "s", lambda c: c.record.seconds.data),
    _m("seconds.train", "train", "s", lambda c: c.record.seconds.train),
    _m("seconds.eval", "eval", "s", lambda c: c.record.seconds.eval),
    _m("compute.total", "compute", "s", lambda c: c.record.compute.total),
    Metric("compute.per_epoch_mean", "compute/epoch", "s", compute_per_epoch),
    Metric("stats.mean", "benchmark mean", "s", bench_mean),
    _m("flops.train", "train FLOPs", "FLOP", lambda c: c.record.flops.train),
    _m(
        "flops.train_per_s",
        "achieved FLOP/s",
        "FLOP/s",
        lambda c: c.record.flops.train_per_s,
        False,
    ),
    _m("flops.peak_per_s", "peak FLOP/s", "FLOP/s", lambda c: c.record.flops.peak_per_s, False),
    _m("flops.utilisation", "utilisation", "frac", lambda c: c.record.flops.utilisation, False),
    Metric("memory.torch_peak_bytes.data", "torch peak (data)", "B", torch_peak("data")),
    Metric("memory.torch_peak_bytes.train", "torch peak (train)", "B", torch_peak("train")),
    Metric("memory.torch_peak_bytes.eval", "torch peak (eval)", "B", torch_peak("eval")),
    _m(
        "memory.nvml_used_peak_bytes",
        "NVML used peak",
        "B",
        lambda c: c.record.memory.nvml_used_peak_bytes,
    ),
    _m(
        "memory.host_peak_rss_bytes",
        "host RSS peak",
        "B",
        lambda c: c.record.memory.host_peak_rss_bytes,
    ),
    _m("power.mean_w", "mean power", "W", lambda c: c.record.power.mean_w),
    _m("power.max_w", "max power", "W", lambda c: c.record.power.max_w),
    _m("energy.joules", "train energy", "J", lambda c: c.record.energy.joules),
    _m(
        "energy.joules_per_accuracy_point",
        "J per accuracy point",
        "J/pt",
        lambda c: c.record.energy.joules_per_accuracy_point,
    ),
    _m(
        "energy.joules_per_test_point",
        "eval energy per test sample",
        "J",
        lambda c: c.record.energy.joules_per_test_point,
    ),
)

BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}


def metric(key: str) -> Metric:
    """The metric with this key (``KeyError`` for an unknown key: a programming error)."""
    return BY_KEY[key]

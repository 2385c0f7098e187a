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


def field(dotted: str) -> Callable[[Case], float | None]:
    """A getter for one ``extra_info`` field."""

    def get(case: Case) -> float | None:
        return case.value(dotted)

    return get


def compute_per_epoch(case: Case) -> float | None:
    """Mean compute seconds of one epoch, over every epoch of every phase."""
    epochs = [s for phase in case.phases for s in case.phase_seconds(phase)]
    return sum(epochs) / len(epochs) if epochs else None


def phase_total(phase: str) -> Callable[[Case], float | None]:
    """A getter for the compute seconds of one phase (None when the case has no such phase)."""

    def get(case: Case) -> float | None:
        epochs = case.phase_seconds(phase)
        return sum(epochs) if epochs else None

    return get


def phase_epoch_mean(phase: str) -> Callable[[Case], float | None]:
    """A getter for the mean compute seconds of one epoch of one phase."""

    def get(case: Case) -> float | None:
        epochs = case.phase_seconds(phase)
        return sum(epochs) / len(epochs) if epochs else None

    return get


def torch_peak(phase: str) -> Callable[[Case], float | None]:
    """A getter for torch's peak allocated bytes during one stage (data, train or eval)."""
    return field(f"memory.torch_peak_bytes.{phase}")


def bench_mean(case: Case) -> float | None:
    """pytest-benchmark's mean over rounds of the end-to-end run."""
    value = case.stats.get("mean")
    return float(value) if isinstance(value, int | float) else None


METRICS: tuple[Metric, ...] = (
    Metric("accuracy.train", "train accuracy", "acc", field("accuracy.train"), False),
    Metric("accuracy.test", "test accuracy", "acc", field("accuracy.test"), False),
    Metric("seconds.end_to_end", "end to end", "s", field("seconds.end_to_end")),
    Metric("seconds.data", "data", "s", field("seconds.data")),
    Metric("seconds.train", "train", "s", field("seconds.train")),
    Metric("seconds.eval", "eval", "s", field("seconds.eval")),
    Metric("compute.total", "compute", "s", field("compute.total")),
    Metric("compute.per_epoch_mean", "compute/epoch", "s", compute_per_epoch),
    Metric("stats.mean", "benchmark mean", "s", bench_mean),
    Metric("flops.train", "train FLOPs", "FLOP", field("flops.train")),
    Metric("flops.train_per_s", "achieved FLOP/s", "FLOP/s", field("flops.train_per_s"), False),
    Metric("flops.peak_per_s", "peak FLOP/s", "FLOP/s", field("flops.peak_per_s"), False),
    Metric("flops.utilisation", "utilisation", "frac", field("flops.utilisation"), False),
    Metric("memory.torch_peak_bytes.data", "torch peak (data)", "B", torch_peak("data")),
    Metric("memory.torch_peak_bytes.train", "torch peak (train)", "B", torch_peak("train")),
    Metric("memory.torch_peak_bytes.eval", "torch peak (eval)", "B", torch_peak("eval")),
    Metric(
        "memory.nvml_used_peak_bytes", "NVML used peak", "B", field("memory.nvml_used_peak_bytes")
    ),
    Metric("memory.host_peak_rss_bytes", "host RSS peak", "B", field("memory.host_peak_rss_bytes")),
    Metric("power.mean_w", "mean power", "W", field("power.mean_w")),
    Metric("power.max_w", "max power", "W", field("power.max_w")),
    Metric("energy.joules", "train energy", "J", field("energy.joules")),
    Metric(
        "energy.joules_per_accuracy_point",
        "J per accuracy point",
        "J/pt",
        field("energy.joules_per_accuracy_point"),
    ),
    Metric(
        "energy.joules_per_test_point",
        "eval energy per test sample",
        "J",
        field("energy.joules_per_test_point"),
    ),
)

BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}


def metric(key: str) -> Metric:
    """The metric with this key (``KeyError`` for an unknown key: a programming error)."""
    return BY_KEY[key]

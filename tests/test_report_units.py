"""Number formatting: units, significant figures, and "n/a" (never 0) for missing values."""

from __future__ import annotations

import pytest

from ff_algos.report.metrics import METRICS, show
from ff_algos.telemetry import units


@pytest.mark.parametrize(
    ("value", "text"),
    [(12.345, "12.3 s"), (123.4, "123 s"), (0.0456, "45.6 ms"), (0.000789, "789 µs"), (0, "0 s")],
)
def test_seconds(value: float, text: str) -> None:
    assert units.seconds(value) == text


def test_si_bytes_accuracy_ratio() -> None:
    assert units.si(3.08e12, "FLOP") == "3.08 TFLOP"
    assert units.si(2.5e3, "J") == "2.5 kJ"
    assert units.si(12.0, "W") == "12 W"
    assert units.nbytes(1.5 * 2**30) == "1.5 GiB"
    assert units.nbytes(512) == "512 B"
    assert units.accuracy(0.93149) == "0.931"
    assert units.accuracy_diff(-0.02) == "−0.020"
    assert units.accuracy_diff(0.0123) == "+0.012"
    assert units.accuracy_diff(0.0) == "±0.000"
    assert units.percent(0.1234) == "12.3 %"
    assert units.ratio(3.414) == "3.41×"


def test_safe_ratio() -> None:
    assert units.safe_ratio(3.0, 2.0) == 1.5
    assert units.safe_ratio(None, 2.0) is None
    assert units.safe_ratio(3.0, 0.0) is None


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.key)
def test_every_metric_shows_missing_as_na(metric: object) -> None:
    from ff_algos.report.metrics import Metric

    assert isinstance(metric, Metric)
    assert metric.show(None) == units.NA
    assert metric.show(0.0) != units.NA  # a measured zero is shown as a number


def test_show_by_unit() -> None:
    assert show("acc", 0.5) == "0.500"
    assert show("frac", 0.5) == "50 %"
    assert show("J/pt", 1.234) == "1.23 J/pt"
    assert show("B", None) == "n/a"

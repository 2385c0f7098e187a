"""The spread over seeds: Student's t quantiles against the printed table and closed forms, the
95% interval and Welch's test against hand-computed values."""

from __future__ import annotations

import math

import pytest

from ff_algos.report.spread import Spread, spread_of, t_quantile, t_tail, welch

# t_{0.975} from a printed t table (3 decimals), the normal value for very large df
T_TABLE = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    15: 2.131,
    20: 2.086,
    30: 2.042,
    60: 2.000,
    120: 1.980,
    10**7: 1.960,
}


@pytest.mark.parametrize(("df", "expected"), T_TABLE.items())
def test_t_quantile_matches_the_table(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("p", [0.6, 0.75, 0.9, 0.975, 0.995, 0.9999])
def test_t_quantile_matches_the_closed_forms_for_one_and_two_df(p: float) -> None:
    # df 1 is the Cauchy distribution; df 2 has t = (2p − 1) / sqrt(2p(1 − p))
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)


def test_t_quantile_other_levels_symmetry_and_fractional_df() -> None:
    assert t_quantile(0.95, 10) == pytest.approx(1.812, abs=5e-4)
    assert t_quantile(0.995, 5) == pytest.approx(4.032, abs=5e-4)
    assert t_quantile(0.025, 4) == pytest.approx(-t_quantile(0.975, 4))
    assert t_quantile(0.5, 3) == 0.0
    # a Welch df between two whole ones gives a quantile between theirs
    assert t_quantile(0.975, 3) > t_quantile(0.975, 3.5) > t_quantile(0.975, 4)
    assert t_tail(0.0, 7) == pytest.approx(0.5)
    assert t_tail(1.0, 1) == pytest.approx(0.25)  # Cauchy: arctan(1) = π/4


@pytest.mark.parametrize(("p", "df"), [(0.0, 3), (1.0, 3), (0.975, 0), (0.975, -1)])
def test_t_quantile_rejects_bad_arguments(p: float, df: float) -> None:
    with pytest.raises(ValueError, match="expected 0 < p < 1 and df > 0"):
        t_quantile(p, df)


def test_interval_of_three_values_by_hand() -> None:
    # mean 0.91, sd 0.01, half-width t_{0.975,2} * 0.01 / sqrt(3) = 4.3027 * 0.0057735
    spread = spread_of([0.92, 0.90, 0.91])
    assert spread is not None
    assert spread.n == 3
    assert spread.mean == pytest.approx(0.91)
    assert spread.sd == pytest.approx(0.01)
    assert spread.half_width == pytest.approx(0.024842, abs=1e-6)
    assert (spread.min, spread.max) == (0.90, 0.92)
    assert (spread.low, spread.high) == pytest.approx((0.885158, 0.934842), abs=1e-6)
    assert spread.as_dict()["half_width"] == spread.half_width


def test_interval_of_five_values_by_hand() -> None:
    # 1..5: mean 3, sd sqrt(2.5) = 1.5811, half-width 2.7764 * 1.5811 / sqrt(5) = 1.9632
    spread = spread_of([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spread is not None
    assert spread.half_width == pytest.approx(1.9632, abs=1e-4)


def test_one_value_has_no_spread() -> None:
    assert spread_of([0.9]) is None
    assert spread_of([]) is None
    alike = spread_of([0.5, 0.5])
    assert alike is not None
    assert alike.half_width == 0.0


def test_welch_by_hand() -> None:
    a = spread_of([0.90, 0.91, 0.92])
    inside = spread_of([0.88, 0.89, 0.90])
    outside = spread_of([0.86, 0.87, 0.88])
    assert a is not None
    assert inside is not None
    assert outside is not None
    # equal sd 0.01, n 3: se = sqrt(2 * 0.0001 / 3) = 0.0081650, df = 4 (critical 2.776)
    near = welch(a, inside)
    assert near.t == pytest.approx(0.02 / 0.0081650, rel=1e-4)  # 2.449
    assert near.df == pytest.approx(4.0)
    assert near.critical == pytest.approx(2.776, abs=5e-4)
    assert not near.a_above_b
    far = welch(a, outside)
    assert far.t == pytest.approx(4.899, abs=1e-3)
    assert far.a_above_b
    assert not welch(outside, a).a_above_b  # the test is directed: b above a is no drop


def test_welch_unequal_variances_by_hand() -> None:
    # a = 1,2,3,4: mean 2.5, s² 5/3, s²/n 5/12; b = 1,1,1.5: mean 7/6, s² 1/12, s²/n 1/36
    # se² = 4/9, t = (4/3) / (2/3) = 2; df = (4/9)² / ((5/12)²/3 + (1/36)²/2) = 3.3907
    a, b = spread_of([1.0, 2.0, 3.0, 4.0]), spread_of([1.0, 1.0, 1.5])
    assert a is not None
    assert b is not None
    test = welch(a, b)
    assert test.t == pytest.approx(2.0)
    assert test.df == pytest.approx(3.3907, abs=1e-4)
    assert t_quantile(0.975, 4) < test.critical < t_quantile(0.975, 3)
    assert not test.a_above_b


def test_welch_without_any_spread() -> None:
    same = Spread(n=3, mean=0.9, sd=0.0, half_width=0.0, min=0.9, max=0.9)
    lower = Spread(n=3, mean=0.8, sd=0.0, half_width=0.0, min=0.8, max=0.8)
    assert welch(same, lower).t == math.inf
    assert welch(same, lower).a_above_b
    assert welch(same, same).t == 0.0
    assert not welch(same, same).a_above_b

"""Spread over seeds: the 95% confidence interval of a mean, and Welch's test of two means.

The interval of n values with mean m and sample standard deviation s (n − 1 in the
denominator) is ``m ± t · s / √n`` with ``t`` the 0.975 quantile of Student's t distribution
with n − 1 degrees of freedom: it covers the true mean (over seeds) 95% of the time if the
values are normal. With 2 seeds t = 12.71, with 3 t = 4.30, with 5 t = 2.78: few seeds give
wide intervals, honestly.

Welch's test asks whether two means differ without assuming equal variances:
``t = (m_a − m_b) / √(s_a²/n_a + s_b²/n_b)`` against the t quantile at the Welch–Satterthwaite
degrees of freedom ``(v_a + v_b)² / (v_a²/(n_a − 1) + v_b²/(n_b − 1))``, ``v = s²/n``. Those
degrees of freedom are not whole numbers, so the quantile is computed, not looked up:

* the t distribution's tail is ``P(T > t) = ½ · I_x(ν/2, ½)`` with ``x = ν / (ν + t²)`` and
  ``I`` the regularised incomplete beta function, evaluated by its continued fraction
  (Lentz's method, as in Numerical Recipes §6.4);
* the quantile inverts the tail by bisection (the tail falls monotonically in t).

scipy is deliberately not a dependency; the tests hold this to the printed t table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

CONFIDENCE = 0.95
INTERVAL = "95% confidence interval of the mean (Student's t, n − 1 degrees of freedom)"

_TINY = 1e-300  # keeps the continued fraction's terms off zero
_EPS = 1e-15


@dataclass(frozen=True)
class Spread:
    """Values of one metric over n >= 2 seeds."""

    n: int
    mean: float
    sd: float  # sample standard deviation (n − 1 in the denominator)
    half_width: float  # of the 95% t interval of the mean
    min: float
    max: float

    @property
    def low(self) -> float:
        """Lower end of the interval."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the interval."""
        return self.mean + self.half_width

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready fields (for ``summary.json``)."""
        return {
            "n": self.n,
            "mean": self.mean,
            "sd": self.sd,
            "half_width": self.half_width,
            "min": self.min,
            "max": self.max,
        }


def spread_of(values: Iterable[float]) -> Spread | None:
    """The spread of ``values``; None for fewer than two (one seed has no spread)."""
    xs = [float(v) for v in values]
    n = len(xs)
    if n < 2:
        return None
    mean = math.fsum(xs) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.5 + CONFIDENCE / 2, n - 1) * sd / math.sqrt(n)
    return Spread(n=n, mean=mean, sd=sd, half_width=half, min=min(xs), max=max(xs))


@dataclass(frozen=True)
class Welch:
    """Welch's test of mean a against mean b: ``t`` above ``critical`` means a > b at 95%
    (two-sided: each tail 2.5%)."""

    t: float  # (mean_a − mean_b) / standard error; ±inf when both spreads are zero
    df: float  # Welch–Satterthwaite degrees of freedom
    critical: float  # t quantile at 0.975 for df

    @property
    def a_above_b(self) -> bool:
        """Mean a is significantly above mean b."""
        return self.t > self.critical


def welch(a: Spread, b: Spread) -> Welch:
    """Welch's t-test of ``a.mean`` against ``b.mean``."""
    va, vb = a.sd**2 / a.n, b.sd**2 / b.n
    diff = a.mean - b.mean
    if va + vb == 0:  # every seed alike on both sides: any difference is beyond the spread
        df = float(a.n + b.n - 2)
        t = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    else:
        df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
        t = diff / math.sqrt(va + vb)
    return Welch(t=t, df=df, critical=t_quantile(0.5 + CONFIDENCE / 2, df))


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` (> 0, not necessarily whole) degrees of
    freedom, to about 1e-10."""
    if not 0 < p < 1 or not df > 0:
        raise ValueError(f"t_quantile({p}, {df}): expected 0 < p < 1 and df > 0")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    if p == 0.5:
        return 0.0
    tail = 1 - p
    high = 1.0
    while t_tail(high, df) > tail:
        high *= 2
    low = 0.0
    while high - low > 1e-12 * max(1.0, high):
        mid = (low + high) / 2
        if t_tail(mid, df) > tail:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def t_tail(t: float, df: float) -> float:
    """``P(T > t)`` for t >= 0 under Student's t with ``df`` degrees of freedom."""
    return 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)``."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # the continued fraction converges fast below the mean of the beta distribution; above it,
    # use the symmetry I_x(a, b) = 1 − I_(1−x)(b, a)
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1 - front * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of ``I_x(a, b)`` by the modified Lentz method."""
    c = 1.0
    d = 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),  # even step
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),  # odd step
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > _TINY else _TINY)
            c = 1 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1) < _EPS:
            break
    return h

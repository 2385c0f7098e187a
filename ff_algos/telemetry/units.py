"""Numbers as short strings with units, for the suite's closing table and the reports. A missing
value is always ``"n/a"``, never 0; a value that does not apply to a case (per-layer time of
backprop) is ``"—"``."""

from __future__ import annotations

NA = "n/a"
NOT_APPLICABLE = "—"

_SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_BINARY = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def sig(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, without an exponent below 10**digits."""
    if value == 0:
        return "0"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:.0f}"
    text = f"{value:.{digits}g}"
    if "e" in text:  # tiny values: fall back to fixed notation
        text = f"{value:.{digits + 3}f}".rstrip("0").rstrip(".")
    return text


def seconds(value: float | None) -> str:
    """``12.3 s``, ``45.6 ms``, ``789 µs``."""
    if value is None:
        return NA
    if abs(value) >= 1 or value == 0:
        return f"{sig(value)} s"
    if abs(value) >= 1e-3:
        return f"{sig(value * 1e3)} ms"
    return f"{sig(value * 1e6)} µs"


def si(value: float | None, unit: str) -> str:
    """Decimal prefixes: ``1.23 TFLOP``, ``456 W``, ``7.8 kJ``."""
    if value is None:
        return NA
    for scale, prefix in _SI:
        if abs(value) >= scale:
            return f"{sig(value / scale)} {prefix}{unit}"
    return f"{sig(value)} {unit}"


def nbytes(value: float | None) -> str:
    """Binary prefixes: ``1.5 GiB``."""
    if value is None:
        return NA
    for scale, name in _BINARY:
        if abs(value) >= scale:
            return f"{sig(value / scale)} {name}"
    return f"{value:.0f} B"


def accuracy(value: float | None) -> str:
    """A fraction with three decimals, ``0.931``."""
    return NA if value is None else f"{value:.3f}"


def accuracy_diff(value: float | None) -> str:
    """A signed difference of fractions, ``+0.012`` or ``−0.020``."""
    if value is None:
        return NA
    text = f"{abs(value):.3f}"
    if text == "0.000":
        return "±0.000"
    return ("+" if value > 0 else "−") + text


def percent(value: float | None) -> str:
    """A fraction as a percentage, ``12.3 %``."""
    return NA if value is None else f"{sig(value * 100)} %"


def ratio(value: float | None) -> str:
    """``3.41×``."""
    return NA if value is None else f"{sig(value)}×"


def safe_ratio(top: float | None, bottom: float | None) -> float | None:
    """``top / bottom``; None when either is missing or the bottom is zero."""
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom

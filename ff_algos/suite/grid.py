"""Recipe grids: several values for a recipe field in one session, expanded to their cartesian
product.

    --grid threshold=1/2/4/8 --grid lr=0.01/0.03/0.1      12 grid points

Values are separated by ``/``, never by commas, so a field whose single value holds commas keeps
them: ``--grid hidden=500,500/1000,1000`` is two values. Each point is the ``--set`` overrides of
one case; its id (``threshold=1-lr=0.01``) goes into the case id.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ff_algos.suite.errors import OptionError

SEPARATOR = "/"
CONFIRM_OVER = 48  # a grid session with more cases than this needs --yes
_NOT_GRIDDED = ("seed", "name")  # seeds come from --seeds; the recipe name from --recipe


@dataclass(frozen=True)
class GridAxis:
    """One gridded recipe field and its values, as typed (parsed later with the recipe's types)."""

    field: str
    values: tuple[str, ...]


Point = tuple[tuple[str, str], ...]  # ((field, value), ...), in the order the axes were given


def parse_grid(texts: list[str] | tuple[str, ...]) -> tuple[GridAxis, ...]:
    """``["threshold=1/2/4", "lr=0.01/0.1"]`` as axes; a malformed or repeated field is an
    :class:`OptionError`."""
    axes: list[GridAxis] = []
    for text in texts:
        field, sep, rest = text.partition("=")
        field = field.strip()
        if not sep or not field:
            raise OptionError(f"--grid {text!r}: expected FIELD=V1/V2/..., e.g. --grid lr=0.01/0.1")
        if field in _NOT_GRIDDED:
            hint = "--seeds N" if field == "seed" else "one --recipe per session"
            raise OptionError(f"--grid {field}: not a grid field; use {hint}")
        values = tuple(v.strip() for v in rest.split(SEPARATOR))
        if any(not v for v in values):
            raise OptionError(
                f"--grid {text!r}: an empty value; separate values with '/', e.g. {field}=1/2/4"
            )
        if len(set(values)) != len(values):
            raise OptionError(f"--grid {text!r}: a value is given twice")
        if any(a.field == field for a in axes):
            raise OptionError(f"--grid {field} is given twice; put all its values in one --grid")
        axes.append(GridAxis(field, values))
    return tuple(axes)


def points(axes: tuple[GridAxis, ...]) -> list[Point]:
    """Every grid point, the first axis varying slowest; one empty point when there is no grid."""
    combos = itertools.product(*(a.values for a in axes))
    return [tuple(zip((a.field for a in axes), combo, strict=True)) for combo in combos]


def point_id(point: Point) -> str:
    """``threshold=1-lr=0.01``: the point's part of a case id (empty for no grid)."""
    return "-".join(f"{field}={value}" for field, value in point)

"""Accuracy floors: the test accuracy each recipe x dataset x method must reach.

The floors live in one reviewed TOML file (``bench/floors.toml``), one table per recipe and
dataset, one key per method::

    [quick.mnist]
    ff = 0.80
    bp = 0.90

A case whose recipe was changed with ``--set`` (other than its seed) has no floor: the reviewed
numbers describe the named recipe only.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from ff_algos.errors import FFBenchError


class FloorsError(FFBenchError):
    """The floors file is missing or malformed."""


@dataclass(frozen=True)
class Floor:
    """The floor that applies to one case, or why none does."""

    value: float | None
    reason: str | None  # set when value is None

    def check(self, test_accuracy: float) -> bool | None:
        """True when the accuracy clears the floor; None when there is no floor."""
        return None if self.value is None else test_accuracy >= self.value


@dataclass(frozen=True)
class Floors:
    """All floors of one file."""

    path: Path
    table: dict[str, dict[str, dict[str, float]]]  # recipe -> dataset -> method -> floor

    def lookup(self, recipe: str, dataset: str, method: str, overridden: tuple[str, ...]) -> Floor:
        """The floor for one case (see the module docstring for when there is none)."""
        if overridden:
            return Floor(None, f"recipe fields overridden ({', '.join(overridden)})")
        value = self.table.get(recipe, {}).get(dataset, {}).get(method)
        if value is None:
            return Floor(None, f"no floor for {recipe}/{dataset}/{method} in {self.path}")
        return Floor(float(value), None)


def load_floors(path: Path) -> Floors:
    """Read and check a floors file; a clear one-line error when it is missing or malformed."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FloorsError(f"floors file {path} does not exist; pass --floors PATH") from None
    except tomllib.TOMLDecodeError as exc:
        raise FloorsError(f"floors file {path} is not valid TOML: {exc}") from None
    table: dict[str, dict[str, dict[str, float]]] = {}
    for recipe, datasets in raw.items():
        if not isinstance(datasets, dict):
            raise FloorsError(f"{path}: [{recipe}] must be a table of datasets")
        for dataset, methods in datasets.items():
            if not isinstance(methods, dict):
                raise FloorsError(f"{path}: [{recipe}.{dataset}] must map methods to floors")
            for method, value in methods.items():
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                if not ok or not 0.0 <= value <= 1.0:
                    raise FloorsError(
                        f"{path}: {recipe}.{dataset}.{method} = {value!r} is not a number in [0, 1]"
                    )
                table.setdefault(recipe, {}).setdefault(dataset, {})[method] = float(value)
    return Floors(path=path, table=table)

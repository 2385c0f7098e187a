"""One benchmark case of a saved run, merging the cases of several runs, and grouping seeds.

A *case* is one entry of a saved run's ``benchmarks`` list that carries ff-bench results
(``extra_info`` in the :mod:`ff_algos.schema` layout). Cases are identified by their pytest name
(``test_fit[mnist-ff]``). A *group* gathers the cases of one dataset, method and recipe that
differ only in their seed; report tables show a group's mean and, over several seeds, its spread
(:mod:`ff_algos.report.spread`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from ff_algos import registry
from ff_algos.record import CaseRecord
from ff_algos.report.spread import Spread, spread_of
from ff_algos.report.study import dataset_order, method_label

_FIRST_METHODS = ("ff", "bp")  # the pair the study compares, first in every table


@dataclass(frozen=True)
class Case:
    """One saved benchmark case: its run, pytest identity, timing stats and ff-bench results."""

    run: str  # label of the saved run it came from
    run_datetime: str  # the run's ISO datetime, as saved by pytest-benchmark
    name: str
    fullname: str
    params: Mapping[str, Any]
    stats: Mapping[str, Any]
    info: Mapping[str, Any]  # extra_info as saved (ff_algos.schema); read it through ``record``
    host_cpu: str | None = None  # the CPU model of the machine that saved the run

    @cached_property
    def record(self) -> CaseRecord:
        """The typed result record (``extra_info`` read once)."""
        return CaseRecord.from_extra_info(self.info)

    @property
    def dataset(self) -> str:
        """Canonical dataset name, e.g. ``"mnist"``."""
        return self.record.dataset

    @property
    def method(self) -> str:
        """The method's registry name, e.g. ``"ff"``, ``"bp"``, ``"ff_head"``."""
        return self.record.method

    @property
    def seed(self) -> int:
        """The training seed the case ran with."""
        return self.record.seed

    @property
    def recipe(self) -> dict[str, Any]:
        """Every recipe field the case ran with."""
        return dict(self.record.recipe)

    @property
    def recipe_name(self) -> str:
        """The recipe's name (``"seed"``, ``"quick"``, ...)."""
        return str(self.record.recipe.get("name", "?"))

    @property
    def device_name(self) -> str:
        """The device's name, e.g. ``"NVIDIA H100 80GB HBM3"`` or a CPU model."""
        return self.record.device.name

    @property
    def device_label(self) -> str:
        """Device name with its type and index, e.g. ``"NVIDIA H100 (cuda:0)"``; a CPU is named
        by its model, from the run's machine description, when the case recorded less."""
        device = self.record.device
        where = device.type if device.index is None else f"{device.type}:{device.index}"
        name = self.host_cpu if device.type == "cpu" and self.host_cpu else device.name
        return f"{name} ({where})"

    def reason(self, dotted: str) -> str | None:
        """Why a null field could not be measured, as the case recorded it."""
        return self.record.reason(dotted)

    @property
    def phases(self) -> list[str]:
        """Compute phases in training order: ``layer1``, ``layer2``... (FF) or ``train`` (bp)."""
        return list(self.record.compute.per_epoch)

    def phase_seconds(self, phase: str) -> list[float]:
        """Seconds of compute for each epoch of one phase (empty when the phase is absent)."""
        return [float(s) for s in self.record.compute.per_epoch.get(phase, ())]


@functools.cache
def _field_defaults(method: str) -> dict[str, Any]:
    """The defaults of ``method``'s recipe fields, JSON-ready (tuples as lists); empty for a
    method this install does not know."""
    if method not in registry.names():
        return {}
    recipes = getattr(registry.get(method), "recipes", None) or {}
    if not recipes:
        return {}
    recipe_type = type(next(iter(recipes.values())))
    if not dataclasses.is_dataclass(recipe_type):
        return {}
    return {
        f.name: json.loads(json.dumps(f.default, default=str))
        for f in dataclasses.fields(recipe_type)
        if f.default is not dataclasses.MISSING
    }


def recipe_fields(case: Case) -> dict[str, Any]:
    """The case's recipe without its seed and without fields at their default: a record saved
    before a field existed (``channels_last``, say) reads like one saved at its default."""
    defaults = _field_defaults(case.method)
    return {
        k: v
        for k, v in case.recipe.items()
        if k != "seed" and not (k in defaults and defaults[k] == v)
    }


def recipe_key(case: Case) -> str:
    """:func:`recipe_fields` as a stable string: cases that differ only in their seed, or in
    fields that one record lacks and the other holds at their default, share it."""
    return json.dumps(recipe_fields(case), sort_keys=True, default=str)


@dataclass(frozen=True)
class CaseGroup:
    """Cases of one dataset, method and recipe (seeds apart)."""

    dataset: str
    method: str
    recipe_name: str
    recipe_key: str
    cases: tuple[Case, ...]

    @property
    def label(self) -> str:
        """``"FF"`` or ``"backprop"``."""
        return method_label(self.method)

    def mean(self, get: Callable[[Case], float | None]) -> float | None:
        """Mean over the group's cases of a metric; None when no case has it."""
        values = [v for v in (get(c) for c in self.cases) if v is not None]
        return sum(values) / len(values) if values else None

    def spread(self, get: Callable[[Case], float | None]) -> Spread | None:
        """Spread over the group's cases of a metric; None when fewer than two cases have it."""
        return spread_of(v for v in (get(c) for c in self.cases) if v is not None)

    def phases(self) -> list[str]:
        """Phases of the group's first case (every case of a recipe has the same)."""
        return self.cases[0].phases

    def phase_seconds(self, phase: str) -> list[float]:
        """Per-epoch seconds of a phase, averaged epoch by epoch over the seeds."""
        series = [c.phase_seconds(phase) for c in self.cases]
        length = min(len(s) for s in series)
        return [sum(s[i] for s in series) / len(series) for i in range(length)]


@dataclass(frozen=True)
class Merged:
    """Cases of one or more runs, each case once, and what happened while merging."""

    cases: tuple[Case, ...]
    notes: tuple[str, ...]


def merge_cases(runs: Sequence[tuple[str, str, Sequence[Case]]]) -> Merged:
    """Merge the cases of runs given as ``(label, datetime, cases)``: a case saved in more than
    one run (same test name, same training seed and same recipe, e.g. not ``quick`` in one and
    ``seed`` in the other) is taken from the later run (by saved datetime, then by order given)
    and a note says so. A run made with ``--set seed=1`` has the test name of seed 0's case but
    is another seed: both are kept."""
    order = sorted(range(len(runs)), key=lambda i: (_saved_at(runs[i][1]), i))
    chosen: dict[tuple[str, int, str], Case] = {}
    notes: list[str] = []
    for i in order:
        label, _, cases = runs[i]
        for case in cases:
            key = (case.name, case.seed, recipe_key(case))
            previous = chosen.get(key)
            if previous is not None and previous.run != label:
                notes.append(
                    f"{case.name} ({case.recipe_name}) is in both {previous.run} and {label}; "
                    f"using {label} (the later run)"
                )
            chosen[key] = case
    return Merged(cases=tuple(chosen.values()), notes=tuple(notes))


def group_cases(cases: Iterable[Case]) -> list[CaseGroup]:
    """Group cases by dataset, method and recipe (seed apart), in the study's dataset order, then
    FF, backprop and the other methods by name."""
    buckets: dict[tuple[str, str, str], list[Case]] = {}
    for case in cases:
        buckets.setdefault((case.dataset, case.method, recipe_key(case)), []).append(case)
    groups = [
        CaseGroup(
            dataset=d,
            method=m,
            recipe_name=members[0].recipe_name,
            recipe_key=k,
            cases=tuple(sorted(members, key=lambda c: c.seed)),
        )
        for (d, m, k), members in buckets.items()
    ]
    groups.sort(
        key=lambda g: (
            dataset_order(g.dataset),
            g.dataset,
            (*_FIRST_METHODS, g.method).index(g.method),  # FF, backprop, then the rest by name
            g.method,
            g.recipe_name,
            g.recipe_key,
        )
    )
    return groups


def _saved_at(text: str) -> datetime:
    """A saved run's datetime as naive UTC (naive ones as they are); unparseable ones sort first."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.min
    return moment.replace(tzinfo=None) - (moment.utcoffset() or timedelta())

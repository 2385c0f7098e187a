"""What the report's tables, figures and ``summary.json`` share: how a group's row and a case are
labelled, the datasets in order, a group's metrics as cells (``mean ± half-width (n=k)`` over
several seeds, see :mod:`ff_algos.report.spread`), and the FF/backprop time ratios."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ff_algos.report.cases import Case, CaseGroup, recipe_fields
from ff_algos.report.metrics import metric
from ff_algos.report.spread import INTERVAL, Spread
from ff_algos.report.study import dataset_label, method_label
from ff_algos.telemetry import units

RATIO_KEYS = (
    "seconds.end_to_end",
    "seconds.train",
    "seconds.eval",
    "compute.total",
    "compute.per_epoch_mean",
)


def row_label(group: CaseGroup, groups: Sequence[CaseGroup]) -> str:
    """``FF``; ``FF (quick)`` when the same method ran more than one recipe; with the fields that
    tell its recipes apart when they share a name (a grid): ``FF (quick, threshold=4, lr=0.1)``."""
    mine = {g.recipe_key: g for g in groups if g.method == group.method}
    if len(mine) == 1:
        return group.label
    recipes = [recipe_fields(g.cases[0]) for g in mine.values()]
    recorded = group.cases[0].recipe  # a field at its default shows its recorded value
    varying = [
        f
        for f in dict.fromkeys(k for r in recipes for k in r)
        if f != "name" and len({json.dumps(r.get(f)) for r in recipes}) > 1 and f in recorded
    ]
    shown = [f"{f}={_value(recorded[f])}" for f in varying]
    return f"{group.label} ({', '.join([group.recipe_name, *shown])})"


def _value(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def datasets(groups: Sequence[CaseGroup]) -> list[str]:
    """Datasets in the groups, in the study's order."""
    return list(dict.fromkeys(g.dataset for g in groups))


def case_label(case: Case) -> str:
    """``MNIST FF``: a case's dataset and method."""
    return f"{dataset_label(case.dataset)} {method_label(case.method)}"


def with_spread(
    show: Callable[[float | None], str],
    mean: float | None,
    spread: Spread | None,
    *,
    count: bool = True,
) -> str:
    """``mean ± half-width (n=k)`` when there is a spread (``count=False``: without the n), else
    the mean alone, each printed by ``show``."""
    if spread is None:
        return show(mean)
    text = f"{show(spread.mean)} ± {show(spread.half_width)}"
    return f"{text} (n={spread.n})" if count else text


def metric_cell(group: CaseGroup, key: str, *, count: bool = True) -> str:
    """The group's mean of one metric in its unit, with its spread over several seeds."""
    m = metric(key)
    return with_spread(m.show, group.mean(m.get), group.spread(m.get), count=count)


def metric_cells(group: CaseGroup, keys: Sequence[str]) -> list[str]:
    """:func:`metric_cell` of each metric."""
    return [metric_cell(group, k) for k in keys]


def spread_notes(groups: Sequence[CaseGroup]) -> list[str]:
    """What ``±`` means in the cells (nothing when every group has one seed)."""
    if all(len(g.cases) < 2 for g in groups):
        return []
    return [f"a ± b (n=k): mean over k seeds ± half-width of the {INTERVAL}"]


def ratio_pairs(groups: Sequence[CaseGroup]) -> list[tuple[CaseGroup, CaseGroup]]:
    """(FF, backprop) groups of the same dataset and recipe name: ``ff`` with ``bp`` (the study's
    pair) and each ``ff_X`` with its same-architecture baseline ``bp_X`` (``ff_conv`` with
    ``bp_conv``); the ratios are reported as FF over backprop."""
    pairs = []
    for ff in groups:
        if not ff.method.startswith("ff"):
            continue
        partner = "bp" + ff.method.removeprefix("ff")
        for bp in groups:
            if (bp.method, bp.dataset, bp.recipe_name) == (partner, ff.dataset, ff.recipe_name):
                pairs.append((ff, bp))
    return pairs


def pair_ratios(ff: CaseGroup, bp: CaseGroup) -> dict[str, float | None]:
    """FF seconds over backprop seconds for each of :data:`RATIO_KEYS` (None where unmeasured)."""
    return {
        key: units.safe_ratio(ff.mean(metric(key).get), bp.mean(metric(key).get))
        for key in RATIO_KEYS
    }

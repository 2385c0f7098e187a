"""What the report's tables, figures and ``summary.json`` share: how a group's row and a case are
labelled, the datasets in order, a group's metrics as cells, and the FF/backprop time ratios."""

from __future__ import annotations

from collections.abc import Sequence

from ff_algos.report.cases import Case, CaseGroup
from ff_algos.report.metrics import metric
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
    """``FF``, or ``FF (quick)`` when the same method ran more than one recipe."""
    keys = {g.recipe_key for g in groups if g.method == group.method}
    return group.label if len(keys) == 1 else f"{group.label} ({group.recipe_name})"


def datasets(groups: Sequence[CaseGroup]) -> list[str]:
    """Datasets in the groups, in the study's order."""
    return list(dict.fromkeys(g.dataset for g in groups))


def case_label(case: Case) -> str:
    """``MNIST FF``: a case's dataset and method."""
    return f"{dataset_label(case.dataset)} {method_label(case.method)}"


def metric_cells(group: CaseGroup, keys: Sequence[str]) -> list[str]:
    """The group's mean of each metric, printed in the metric's unit."""
    return [metric(k).show(group.mean(metric(k).get)) for k in keys]


def ratio_pairs(groups: Sequence[CaseGroup]) -> list[tuple[CaseGroup, CaseGroup]]:
    """(FF, backprop) groups of the same dataset and recipe name. Only this pair: the study
    compares these two, and the ratios are reported as FF over backprop."""
    pairs = []
    for ff in groups:
        if ff.method != "ff":
            continue
        for bp in groups:
            if bp.method == "bp" and bp.dataset == ff.dataset and bp.recipe_name == ff.recipe_name:
                pairs.append((ff, bp))
    return pairs


def pair_ratios(ff: CaseGroup, bp: CaseGroup) -> dict[str, float | None]:
    """FF seconds over backprop seconds for each of :data:`RATIO_KEYS` (None where unmeasured)."""
    return {
        key: units.safe_ratio(ff.mean(metric(key).get), bp.mean(metric(key).get))
        for key in RATIO_KEYS
    }

"""``summary.json``: the report's numbers as plain data, for scripts and for comparing reports.

Values are raw SI numbers (seconds, bytes, FLOPs, watts, joules; accuracies as fractions);
a value that was not measured is ``null`` and its reason is under ``unavailable``. A group's
``metrics`` are means over its seeds; ``metrics_spread`` holds, for each metric measured by two or
more seeds, ``{n, mean, sd, half_width, min, max}`` (half-width of the interval named by
``spread_interval``; see :mod:`ff_algos.report.spread`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ff_algos.report.cases import CaseGroup
from ff_algos.report.metrics import METRICS, phase_epoch_mean, phase_total
from ff_algos.report.rows import pair_ratios, ratio_pairs
from ff_algos.report.runs import SavedRun
from ff_algos.report.spread import INTERVAL
from ff_algos.report.study import recorded_match, study_accuracy

SUMMARY_FORMAT = "ff-bench-report/1"


def build_summary(
    runs: Sequence[SavedRun],
    groups: Sequence[CaseGroup],
    notes: Sequence[str],
    figures: Sequence[str],
) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    return {
        "format": SUMMARY_FORMAT,
        "runs": [_run(r) for r in runs],
        "notes": list(notes),
        "spread_interval": INTERVAL,
        "groups": [_group(g) for g in groups],
        "ratios_ff_over_bp": [
            {
                "dataset": ff.dataset,
                "pair": [ff.method, bp.method],
                "recipe": ff.recipe_name,
                **pair_ratios(ff, bp),
            }
            for ff, bp in ratio_pairs(groups)
        ],
        "figures": list(figures),
    }


def source_digests(summary: dict[str, Any]) -> set[str]:
    """sha256 digests of the saved runs a summary was made from (empty if it names none)."""
    runs = summary.get("runs")
    if not isinstance(runs, list):
        return set()
    return {str(r.get("sha256")) for r in runs if isinstance(r, dict) and r.get("sha256")}


def _run(run: SavedRun) -> dict[str, Any]:
    return {
        "label": run.label,
        "file": run.ref.path.name,
        "machine_id": run.machine_id,
        "sha256": run.digest,
        "datetime": run.datetime,
        "pytest_benchmark": run.version,
        "commit": run.commit_info.get("id"),
        "dirty": run.commit_info.get("dirty"),
        "ff_bench": run.ff_bench,
        "devices": run.devices,
        "recipes": run.recipes,
        "cases": [c.name for c in run.cases],
        "ignored": list(run.ignored),
    }


def _group(group: CaseGroup) -> dict[str, Any]:
    first = group.cases[0]
    study = study_accuracy(group.method, group.dataset)
    match = recorded_match(first.record)
    values = {m.key: group.mean(m.get) for m in METRICS}
    unavailable: dict[str, str] = {}
    for case in group.cases:
        for key, reason in case.record.unavailable.items():
            unavailable.setdefault(key, reason)
    train, test = values["accuracy.train"], values["accuracy.test"]
    return {
        "dataset": group.dataset,
        "method": group.method,
        "recipe": group.recipe_name,
        "recipe_fields": {k: v for k, v in first.recipe.items() if k != "seed"},
        "like_for_like_with_study": match.like_for_like,
        "recipe_differences_from_study": list(match.differences),
        "seeds": [c.seed for c in group.cases],
        "cases": [{"name": c.name, "run": c.run, "device": c.device_label} for c in group.cases],
        "metrics": values,
        "metrics_spread": {
            m.key: s.as_dict() for m in METRICS if (s := group.spread(m.get)) is not None
        },
        "study": None if study is None else {"train": study.train, "test": study.test},
        "accuracy_minus_study": None
        if study is None
        else {
            "train": None if train is None else train - study.train,
            "test": None if test is None else test - study.test,
        },
        "phases": {
            phase: {
                "total": group.mean(phase_total(phase)),
                "per_epoch_mean": group.mean(phase_epoch_mean(phase)),
                "per_epoch": group.phase_seconds(phase),
            }
            for phase in group.phases()
        },
        "benchmark": {
            "mean": [c.stats.get("mean") for c in group.cases],
            "stddev": [c.stats.get("stddev") for c in group.cases],
            "rounds": [c.stats.get("rounds") for c in group.cases],
        },
        "unavailable": unavailable,
    }

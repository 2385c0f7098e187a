"""Learning curves in the report: the mean curve over seeds, the budget to reach each target,
the accuracy of every method at the cheapest method's budget, and the two figures."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ff_algos.report.cases import Case, group_cases
from ff_algos.report.curves import NOT_REACHED, curve_figures, curve_tables, mean_curve

RUNS = Path(__file__).parent / "fixtures" / "runs"


def _info() -> dict[str, Any]:
    path = sorted(RUNS.glob("*/[0-9][0-9][0-9][0-9]_*.json"))[0]
    info: dict[str, Any] = json.loads(path.read_text())["benchmarks"][0]["extra_info"]
    return info


def _case(method: str, seed: int, points: list[tuple[float, int, float]]) -> Case:
    """A mnist case of ``method`` whose curve has (seconds, model FLOPs, accuracy) points."""
    info = copy.deepcopy(_info())
    info.update(dataset="mnist", method=method, seed=seed)
    info["recipe"] = {**info["recipe"], "seed": seed}
    info["curve"] = {
        "val_rows": 100,
        "val_source": "unused training rows",
        "points_per_phase": len(points),
        "eval_seconds": 0.1,
        "energy_method": None,
        "points": [
            {
                "phase": "train",
                "epoch": i + 1,
                "seconds": s,
                "model_flops": f,
                "executed_flops": f,
                "energy_j": None,
                "val_accuracy": a,
            }
            for i, (s, f, a) in enumerate(points)
        ],
    }
    name = f"test_fit[mnist-{method}-seed{seed}]"
    return Case("r", "2026-11-28T00:00:00", name, name, {}, {"mean": 1.0}, info)


def _groups() -> list[Any]:
    cases = [
        _case("ff", 0, [(1.0, 100, 0.85), (2.0, 200, 0.91), (4.0, 400, 0.93)]),
        _case("ff", 1, [(3.0, 100, 0.87), (4.0, 200, 0.93), (6.0, 400, 0.95)]),
        _case("bp", 0, [(0.5, 10, 0.92), (1.0, 20, 0.96), (1.5, 30, 0.975)]),
    ]
    return group_cases(cases)


def test_the_mean_curve_averages_the_seeds_point_by_point() -> None:
    ff = next(g for g in _groups() if g.method == "ff")
    curve = mean_curve(ff)
    assert [p.seconds for p in curve] == [2.0, 3.0, 5.0]
    assert [p.val_accuracy for p in curve] == pytest.approx([0.86, 0.92, 0.94])


def test_budget_to_target_is_the_first_point_at_or_above_it() -> None:
    to_target, _ = curve_tables(_groups())
    rows = {(r[1], r[2]): r[3:] for r in to_target.rows}
    assert rows[("FF", "0.90")][0] == "3 s"  # mean curve reaches 0.92 at its second point
    assert rows[("FF", "0.95")] == (NOT_REACHED,) * 3
    assert rows[("backprop", "0.90")][0] == "500 ms"
    assert rows[("backprop", "0.97")][1] == "30 FLOP"


def test_equal_budget_reads_each_method_at_the_cheapest_total() -> None:
    _, equal = curve_tables(_groups())
    rows = {r[1]: r[2:] for r in equal.rows}
    # the cheapest method (backprop) ends at 1.5 s and 30 FLOP: FF has no point that early
    assert rows["backprop"] == ("0.975", "0.975", "0.975")
    assert rows["FF"] == ("n/a", "n/a", "0.940")
    assert rows["(budget)"][:2] == ("1.5 s", "30 FLOP")


def test_runs_without_curves_add_no_tables() -> None:
    plain = Case("r", "", "n", "n", {}, {"mean": 1.0}, _info())
    assert curve_tables(group_cases([plain])) == []
    assert curve_figures(group_cases([plain]), "caption") == {}


def test_the_figures_are_drawn() -> None:
    pytest.importorskip("matplotlib")
    figures = curve_figures(_groups(), "Device: test.")
    assert set(figures) == {"learning_curve_time.png", "learning_curve_flops.png"}
    for title, png in figures.values():
        assert title.startswith("Validation accuracy against")
        assert png.startswith(b"\x89PNG")

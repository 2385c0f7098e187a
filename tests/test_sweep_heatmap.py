"""The report's grid heatmap: which runs hold a two-field grid, and the cells it draws."""

from __future__ import annotations

import pytest

from ff_algos.report.heatmap import GridCase, draw_heatmap, find_grids, grid_figures


def _case(threshold: float, lr: float, seed: int, acc: float, **more: object) -> GridCase:
    recipe = {"name": "quick", "threshold": threshold, "lr": lr, "seed": seed, "epochs": 20}
    return GridCase("mnist", "ff", recipe | more, acc)


def _grid_cases() -> list[GridCase]:
    return [
        _case(t, lr, s, 0.5 + t / 10 + lr + s / 100)
        for t in (1.0, 2.0, 4.0)
        for lr in (0.1, 0.03)
        for s in (0, 1)
    ]


def test_two_varying_fields_make_a_grid_with_seeds_in_one_cell() -> None:
    (grid,) = find_grids(_grid_cases())
    assert (grid.x_field, grid.y_field) == ("threshold", "lr")
    assert grid.x_values == (1.0, 2.0, 4.0)
    assert grid.y_values == (0.03, 0.1)
    assert grid.accuracies(2.0, 0.1) == pytest.approx((0.8, 0.81))
    assert grid.file_name == "grid_mnist_ff_threshold_lr.png"


def test_one_or_three_varying_fields_make_no_grid() -> None:
    one = [c for c in _grid_cases() if c.recipe["lr"] == 0.1]
    assert find_grids(one) == []
    three = [_case(1.0, 0.1, 0, 0.9, epochs=5), *_grid_cases()]
    assert find_grids(three) == []


def test_each_dataset_and_method_is_its_own_grid() -> None:
    other = [GridCase("fashion_mnist", "ff", c.recipe, c.test_accuracy) for c in _grid_cases()]
    plain = [GridCase("mnist", "bp", {"lr": 0.001, "seed": s}, 0.97) for s in (0, 1)]
    grids = find_grids([*_grid_cases(), *other, *plain])
    assert [(g.dataset, g.method) for g in grids] == [("mnist", "ff"), ("fashion_mnist", "ff")]


def test_list_values_such_as_hidden_are_grid_values() -> None:
    cases = [
        GridCase("mnist", "ff", {"hidden": h, "lr": lr, "seed": 0}, 0.9)
        for h in ([500, 500], [1000])
        for lr in (0.1, 0.3)
    ]
    (grid,) = find_grids(cases)
    assert grid.x_values == ([500, 500], [1000])
    assert grid.accuracies([1000], 0.3) == (0.9,)


def test_the_heatmap_is_a_png() -> None:
    pytest.importorskip("matplotlib")
    (grid,) = find_grids(_grid_cases())
    png = draw_heatmap(grid, "Device: test CPU.")
    assert png is not None
    assert png.startswith(b"\x89PNG")
    figures = grid_figures(_grid_cases(), "caption")
    assert list(figures) == ["grid_mnist_ff_threshold_lr.png"]
    assert figures["grid_mnist_ff_threshold_lr.png"][0].startswith("Test accuracy over threshold")

"""Learning curves: the validation rows, the checkpoint schedule, the clock leaving evaluation
out, the observer's points, and every method offering its network so far."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
import torch

from ff_algos import registry
from ff_algos.data import LoadedDataset, Split, dataset_info
from ff_algos.errors import RecipeError
from ff_algos.fitting import CARVED, UNUSED, fit, training_rows, validation_split
from ff_algos.method import FanOut
from ff_algos.record import CaseRecord
from ff_algos.telemetry import EpochClock
from ff_algos.telemetry.curve import CurveObserver, schedule


def _data(n: int = 200) -> LoadedDataset:
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 784)
    y = torch.arange(n) % 10
    return LoadedDataset(
        info=dataset_info("mnist"),
        train=Split(x, y),
        test=Split(x[:20], y[:20]),
        root=Path("."),
        load_seconds=0.0,
        source="synthetic",
    )


def _recipe(train_size: int | None) -> object:
    return dataclasses.replace(registry.recipe("bp", "tiny"), train_size=train_size)


def test_auto_validation_rows_are_rows_training_does_not_use() -> None:
    data = _data()
    recipe = _recipe(120)
    fit_data, val, source = validation_split(recipe, data, None)
    assert fit_data is data  # training unchanged
    assert val is not None
    assert source == UNUSED
    assert len(val) == 80
    trained = training_rows(recipe, data)
    assert trained.rows is not None
    assert val.rows is not None
    assert set(val.rows.tolist()).isdisjoint(trained.rows.tolist())
    assert torch.equal(val.x[:, 0], val.rows.float())  # the rows it names
    again = validation_split(recipe, data, None)[1]
    assert again is not None
    assert again.rows is not None
    assert torch.equal(again.rows, val.rows)  # seeded


def test_a_recipe_on_every_row_has_no_auto_validation_but_can_carve_one() -> None:
    data = _data()
    recipe = _recipe(None)
    _, val, reason = validation_split(recipe, data, None)
    assert val is None
    assert "--val-size" in reason
    carved, val, source = validation_split(recipe, data, 50)
    assert source == CARVED
    assert val is not None
    assert len(val) == 50
    assert len(carved.train) == 150
    assert set(carved.train.x[:, 0].tolist()).isdisjoint(val.x[:, 0].tolist())
    assert validation_split(recipe, data, 0)[1] is None
    with pytest.raises(RecipeError, match="--val-size 200"):
        validation_split(recipe, data, 200)


@pytest.mark.parametrize(
    ("epochs", "points", "expected"),
    [(1000, 4, {249, 499, 749, 999}), (5, 4, {1, 2, 3, 4}), (2, 4, {0, 1}), (3, 0, set())],
)
def test_schedule_spreads_points_and_ends_on_the_last_epoch(
    epochs: int, points: int, expected: set[int]
) -> None:
    assert schedule(epochs, points) == expected


def test_the_clock_leaves_out_work_between_an_epoch_end_and_a_restart() -> None:
    clock = EpochClock(torch.device("cpu"))
    clock.phase_start("train", 2)
    time.sleep(0.02)
    clock.epoch_end(0)
    time.sleep(0.2)  # an evaluation
    clock.restart()
    time.sleep(0.02)
    clock.epoch_end(1)
    clock.phase_end()
    times = clock.result().per_epoch["train"]
    assert len(times) == 2
    assert max(times) < 0.15  # neither epoch holds the 0.2 s between them


class _Constant:
    def __init__(self, label: int) -> None:
        self.label = label

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0],), self.label)


def test_the_observer_scores_the_model_at_its_points() -> None:
    clock = EpochClock(torch.device("cpu"))
    val = Split(torch.zeros(10, 3), torch.tensor([1] * 7 + [2] * 3))
    curve = CurveObserver(clock, val, 2, {"layer1": 400, "layer2": 600}, 2000, val_source=UNUSED)
    obs = FanOut([clock, curve])
    for phase in ("layer1", "layer2"):
        obs.phase_start(phase, 4)
        for epoch in range(4):
            obs.epoch_end(epoch)
            obs.checkpoint(epoch, lambda: _Constant(1))
        obs.phase_end()
    result = curve.result()
    assert [(p.phase, p.epoch) for p in result.points] == [
        ("layer1", 2),
        ("layer1", 4),
        ("layer2", 2),
        ("layer2", 4),
    ]
    assert [p.executed_flops for p in result.points] == [200, 400, 700, 1000]
    assert [p.model_flops for p in result.points] == [400, 800, 1400, 2000]  # x model/executed
    assert {p.val_accuracy for p in result.points} == {0.7}
    seconds = [p.seconds for p in result.points]
    assert seconds == sorted(seconds)
    assert result.energy_method is None  # no counters on this machine's CPU in the test
    assert all(p.energy_j is None for p in result.points)


@pytest.mark.parametrize("name", sorted(registry.builtin()))
def test_every_builtin_method_offers_its_network_so_far(name: str) -> None:
    data = _data(300)
    recipe = dataclasses.replace(registry.recipe(name, "tiny"), train_size=200)
    if "world" in {f.name for f in dataclasses.fields(recipe)}:  # a world of one, in process
        recipe = dataclasses.replace(recipe, world=1, serial="none")
    clock = EpochClock(torch.device("cpu"))
    fit_data, val, source = validation_split(recipe, data, None)
    assert val is not None
    method = registry.get(name)
    executed = method.executed_flops(recipe, 200, data.info)
    curve = CurveObserver(clock, val, 2, executed, 10, val_source=source)
    fit(recipe, fit_data, observer=FanOut([clock, curve]))
    points = curve.result().points
    phases = list(clock.result().per_epoch)
    assert list(dict.fromkeys(p.phase for p in points)) == phases  # points in every phase
    assert points[-1].executed_flops == sum(executed.values())


def test_the_curve_is_saved_and_read_back(tmp_path: Path) -> None:
    fixture = sorted((Path(__file__).parent / "fixtures" / "runs").rglob("*.json"))[0]
    info = json.loads(fixture.read_text())["benchmarks"][0]["extra_info"]
    record = CaseRecord.from_extra_info(info)
    assert record.curve is None  # older runs have none
    clock = EpochClock(torch.device("cpu"))
    val = Split(torch.zeros(4, 3), torch.ones(4, dtype=torch.long))
    curve = CurveObserver(clock, val, 1, {"train": 10}, 10, val_source=UNUSED)
    obs = FanOut([clock, curve])
    obs.phase_start("train", 1)
    obs.epoch_end(0)
    obs.checkpoint(0, lambda: _Constant(1))
    obs.phase_end()
    with_curve = dataclasses.replace(record, curve=curve.result())
    saved = json.loads(json.dumps(with_curve.to_extra_info()))
    assert saved["curve"]["points"][0]["val_accuracy"] == 1.0
    assert CaseRecord.from_extra_info(saved) == with_curve

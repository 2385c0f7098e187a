"""The method contract and registry: every registered method trains a tiny recipe through
:func:`ff_algos.methods.fit`, and its analytic executed FLOPs equal what
``torch.utils.flop_counter.FlopCounterMode`` counts; registry errors are one line; a method
defined outside the package runs through the suite with ``--method-module``."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ff_algos import registry
from ff_algos.data import LoadedDataset, Split, dataset_info
from ff_algos.errors import RecipeError
from ff_algos.fitting import accuracy, fit
from ff_algos.schema import validate
from ff_algos.telemetry import EpochClock

BENCH = Path(__file__).resolve().parents[1] / "bench"
pytest_plugins = ["pytester"]


def synthetic(n_train: int = 96, n_test: int = 40) -> LoadedDataset:
    """MNIST-shaped random data (784 inputs, 10 classes) with a learnable signal."""
    gen = torch.Generator().manual_seed(0)
    info = dataset_info("mnist")
    y = torch.arange(n_train + n_test) % info.num_classes
    x = torch.randn(n_train + n_test, info.input_size, generator=gen) * 0.3
    x[torch.arange(len(y)), 20 + y * 7] += 3.0  # one bright pixel per class
    return LoadedDataset(
        info=info,
        train=Split(x[:n_train], y[:n_train]),
        test=Split(x[n_train:], y[n_train:]),
        root=Path("."),
        load_seconds=0.0,
        source="synthetic",
    )


def in_this_process(recipe: Any) -> Any:
    """A multi-process recipe as a world of one in this process, without serial references,
    so that the flop counter sees all of its training and nothing else."""
    names = {f.name for f in dataclasses.fields(recipe)}
    if {"world", "serial"} <= names:
        return dataclasses.replace(recipe, world=1, serial="none")
    return recipe


@pytest.mark.parametrize("name", registry.names())
def test_executed_flops_match_the_flop_counter(name: str) -> None:
    method = registry.get(name)
    assert method.name == name
    assert {"tiny", "quick"} <= set(method.recipes)
    data = synthetic()
    recipe = in_this_process(dataclasses.replace(method.recipes["tiny"], train_size=None))
    clock = EpochClock(torch.device("cpu"))
    with FlopCounterMode(display=False) as counter:
        result = fit(recipe, data, observer=clock)
    executed = method.executed_flops(recipe, len(data.train), data.info)
    assert counter.get_total_flops() == sum(executed.values())
    assert set(executed) == set(clock.result().per_epoch)  # FLOPs per phase the clock timed
    assert method.flops(recipe, len(data.train), data.info).train > 0
    for model in (result.model, *result.predictors.values()):
        assert 0.0 <= accuracy(model, data.test) <= 1.0


@pytest.mark.parametrize("name", registry.names())
def test_epochs_zero_is_refused_before_training(name: str) -> None:
    method = registry.get(name)
    with pytest.raises(RecipeError, match="epochs=0 trains nothing"):
        method.validate(
            dataclasses.replace(method.recipes["tiny"], epochs=0), dataset_info("mnist")
        )


def test_registry_errors_name_the_choices() -> None:
    with pytest.raises(
        RecipeError,
        match="unknown method 'sgd'; choose one of: bp, bp_attn, bp_conv, bp_parallel, ff, ",
    ):
        registry.get("sgd")
    with pytest.raises(RecipeError, match="method 'bp' has no recipe 'x'; it has: seed, quick"):
        registry.recipe("bp", "x")
    with pytest.raises(RecipeError, match="cannot be imported"):
        registry.load_module("no_such_module_anywhere")
    with pytest.raises(RecipeError, match="is built in"):
        registry.register(registry.get("ff"))


CENTROID = '''
"""A method defined outside ff-bench: nearest class mean (what a user writes)."""
import dataclasses, typing, torch
from ff_algos.method import Fitted, FlopCount

@dataclasses.dataclass(frozen=True)
class CentroidRecipe:
    name: str = "tiny"
    epochs: int = 1
    seed: int = 0
    train_size: int | None = 512
    precision: str = "fp32"
    compile: str = "none"
    method: typing.ClassVar[str] = "centroid"

class Centroids:
    def __init__(self, means): self.means = means
    def predict(self, x): return torch.cdist(x, self.means).argmin(1)

class CentroidMethod:
    name, description = "centroid", "nearest class mean"
    def __init__(self): self.recipes = {"tiny": CentroidRecipe(), "quick": CentroidRecipe("quick")}
    def validate(self, recipe, info): pass
    def fit(self, recipe, data, observer):
        observer.phase_start("train", 1)
        x, y = data.train.x, data.train.y
        means = torch.stack([x[y == c].mean(0) for c in range(data.info.num_classes)])
        observer.epoch_end(0)
        observer.phase_end()
        return Fitted(Centroids(means), {"train": [0.0]}, {"compile": "none"})
    def flops(self, recipe, n, info): return FlopCount(n * info.input_size, 0, 0, 1)
    def executed_flops(self, recipe, n, info): return {"train": 0}
    def warm_up_recipe(self, recipe, rows): return dataclasses.replace(recipe, train_size=rows)

METHOD = CentroidMethod()
'''


@pytest.mark.real_data
def test_a_method_from_outside_runs_through_the_suite(
    pytester: pytest.Pytester, real_data_root: Callable[[str], Path]
) -> None:
    for name in ("conftest.py", "test_bench.py", "floors.toml"):
        shutil.copy(BENCH / name, pytester.path / name)
    pytester.makepyfile(my_method=CENTROID)
    pytester._monkeypatch.setenv("FF_BENCH_DATA", str(real_data_root("mnist")))
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--method-module=my_method",
        "--methods=centroid",
        "--recipe=tiny",
        "--datasets=mnist",
        "--journal=journal.jsonl",
        "--benchmark-json=out.json",
    )
    result.assert_outcomes(passed=1)
    import json

    saved = json.loads((pytester.path / "out.json").read_text())
    info = saved["benchmarks"][0]["extra_info"]
    assert validate(info) == []
    assert info["method"] == "centroid"
    assert info["accuracy"]["test"] > 0.5  # class means do learn MNIST
    assert info["study"]["like_for_like"] is False

"""fit / accuracy: dispatch, the rows trained on, the reported options and losses, errors; and
learning on real MNIST and FashionMNIST with the ``quick`` recipes (accuracy floors)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor

from ff_algos import registry
from ff_algos.data import DatasetInfo, LoadedDataset, Split, load_dataset
from ff_algos.errors import DivergenceError, RecipeError
from ff_algos.fitting import FitResult, accuracy, fit
from ff_algos.methods.bp import BPRecipe
from ff_algos.methods.common.overlay import FFRecipe
from ff_algos.suite.floors import load_floors

FLOORS_FILE = Path(__file__).resolve().parents[1] / "bench" / "floors.toml"

CLASSES, INPUTS = 4, 32


def synthetic(n_train: int = 400, n_test: int = 200, seed: int = 0) -> LoadedDataset:
    """Four Gaussian clusters in 32 dimensions (the first four entries, where FF overlays the
    label, carry no signal)."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(CLASSES, INPUTS, generator=gen) * 1.5
    centres[:, :CLASSES] = 0

    def split(n: int) -> Split:
        y = torch.randint(0, CLASSES, (n,), generator=gen)
        return Split(centres[y] + torch.randn(n, INPUTS, generator=gen), y)

    info = DatasetInfo(
        name="synthetic",
        torchvision_name="Synthetic",
        num_classes=CLASSES,
        image_shape=(1, 4, 8),
        mean=(0.0,),
        std=(1.0,),
        train_size=n_train,
        test_size=n_test,
    )
    return LoadedDataset(info, split(n_train), split(n_test), Path("."), 0.0, "synthetic")


FF_SMALL = FFRecipe(name="t", hidden=(32, 32), epochs=30, batch_size=100, train_size=300, seed=1)
BP_SMALL = BPRecipe(name="t", hidden=(32, 32), epochs=5, batch_size=50, train_size=300, seed=1)


class Fixed:
    """A classifier that answers fixed labels."""

    def __init__(self, labels: Tensor) -> None:
        self.labels = labels

    def predict(self, x: Tensor) -> Tensor:
        return self.labels[: x.shape[0]]


def test_accuracy_is_the_fraction_correct() -> None:
    split = Split(torch.zeros(8, 3), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
    assert accuracy(Fixed(torch.tensor([0, 1, 2, 3, 3, 3, 3, 3])), split) == 5 / 8
    with pytest.raises(RecipeError, match="empty"):
        accuracy(Fixed(torch.zeros(0, dtype=torch.long)), Split(torch.zeros(0, 3), torch.zeros(0)))


@pytest.mark.parametrize("recipe", [FF_SMALL, BP_SMALL], ids=["ff", "bp"])
def test_fit_learns_and_reports(recipe: FFRecipe | BPRecipe) -> None:
    data = synthetic()
    result = fit(recipe, data)
    assert isinstance(result, FitResult)
    # the rows trained on are the seeded subset
    expected = data.train.subset(300, recipe.seed)
    assert torch.equal(result.train.x, expected.x)
    assert torch.equal(result.train.y, expected.y)
    phases = ["layer1", "layer2"] if isinstance(recipe, FFRecipe) else ["train"]
    assert list(result.losses) == phases
    assert all(len(v) == recipe.epochs for v in result.losses.values())
    assert all(isinstance(v, float) for vs in result.losses.values() for v in vs)
    assert result.options["compiled"] is False
    assert result.options["cuda_graphs"] is False
    assert result.options["input_pipeline"] == "tensor"
    if isinstance(recipe, FFRecipe):
        assert result.options["goodness"] == "mean"
        assert result.options["negatives"] == "permute"
    # well above chance (0.25) on held-out data
    assert accuracy(result.model, data.test) > 0.8


def test_fit_reports_the_observer_phases() -> None:
    seen: list[str] = []

    class Phases:
        def phase_start(self, name: str, epochs: int) -> None:
            seen.append(f"{name}:{epochs}")

        def epoch_end(self, epoch: int) -> None:
            pass

        def phase_end(self) -> None:
            seen.append("end")

    fit(dataclasses.replace(FF_SMALL, epochs=2), synthetic(), observer=Phases())
    fit(dataclasses.replace(BP_SMALL, epochs=2), synthetic(), observer=Phases())
    assert seen == ["layer1:2", "end", "layer2:2", "end", "train:2", "end"]


def test_whole_split_when_train_size_is_none() -> None:
    data = synthetic()
    result = fit(dataclasses.replace(BP_SMALL, train_size=None, epochs=1), data)
    assert result.train is data.train


def test_train_size_beyond_the_split_is_an_error() -> None:
    with pytest.raises(RecipeError, match="train_size=5000"):
        fit(dataclasses.replace(FF_SMALL, train_size=5000), synthetic())


def test_divergence_is_an_error_not_a_nan_accuracy() -> None:
    with pytest.raises(DivergenceError, match=r"layer1: .*lr=1e\+30"):
        fit(dataclasses.replace(FF_SMALL, lr=1e30, epochs=10, nan_check_every=4), synthetic())


def test_tiny_recipes_run() -> None:
    """The suite's own tests use ``tiny``: it must run on small inputs in seconds."""
    data = synthetic(n_train=1200)
    for method in ("ff", "bp"):
        result = fit(registry.recipe(method, "tiny"), data)
        assert 0.0 <= accuracy(result.model, data.test) <= 1.0


# ---- real data: the quick recipes learn --------------------------------------------------------

# The reviewed floors of the benchmark suite (bench/floors.toml), which documents how they were
# chosen; train accuracy must clear them too.
FLOORS: dict[tuple[str, str], float] = {
    (dataset, method): value
    for dataset, methods in load_floors(FLOORS_FILE).table["quick"].items()
    for method, value in methods.items()
}


@pytest.mark.real_data
@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "method"), sorted(FLOORS))
def test_quick_recipe_learns_real_data(
    real_data_root: Callable[[str], Path], dataset: str, method: str
) -> None:
    data = load_dataset(dataset, root=real_data_root(dataset))
    result = fit(registry.recipe(method, "quick"), data)
    test_acc = accuracy(result.model, data.test)
    train_acc = accuracy(result.model, result.train)
    floor = FLOORS[(dataset, method)]
    assert test_acc >= floor, f"{method} on {dataset}: test accuracy {test_acc:.4f} < {floor}"
    assert train_acc >= floor, f"{method} on {dataset}: train accuracy {train_acc:.4f} < {floor}"


@pytest.mark.real_data
@pytest.mark.slow
def test_dataloader_pipeline_learns_the_same(real_data_root: Callable[[str], Path]) -> None:
    """The conventional DataLoader pipeline trains the same model family on the same rows."""
    data = load_dataset("mnist", root=real_data_root("mnist"))
    quick = registry.recipe("bp", "quick")
    assert isinstance(quick, BPRecipe)
    recipe = dataclasses.replace(quick, input_pipeline="dataloader")
    result = fit(recipe, data)
    assert result.options["input_pipeline"] == "dataloader"
    assert result.options["loader_workers"] == 0
    assert torch.equal(result.train.y, data.train.subset(recipe.train_size, recipe.seed).y)
    assert accuracy(result.model, data.test) >= FLOORS[("mnist", "bp")]

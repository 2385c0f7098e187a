"""Backprop baseline: the MLP and its training loop against a plain reference written here, the
device-batch sampler, determinism, divergence, and the DataLoader pipeline on real data."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.errors import DivergenceError, RecipeError
from ff_algos.method import Fitted
from ff_algos.methods import bp as backprop
from ff_algos.methods.bp import BPRecipe

N, D, C = 50, 16, 4
CPU = torch.device("cpu")
F64 = torch.float64


@pytest.fixture
def data() -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(5)
    return torch.randn(N, D, generator=gen, dtype=F64), torch.randint(0, C, (N,), generator=gen)


def small_recipe(**changes: object) -> BPRecipe:
    base = BPRecipe(name="test", hidden=(12, 10), epochs=3, batch_size=16, seed=4)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def run(recipe: BPRecipe, x: Tensor, y: Tensor) -> Fitted[backprop.MLP]:
    return backprop.train_bp(recipe, x, y, C)


def plain_reference(recipe: BPRecipe, x: Tensor, y: Tensor) -> nn.Sequential:
    """nn.Sequential with the same initial weights, trained by the textbook loop on the same
    batches (the documented seeded permutation per epoch)."""
    init = backprop.MLP(D, recipe.hidden, C, torch.Generator().manual_seed(recipe.seed), CPU, F64)
    mods: list[nn.Module] = []
    for k, layer in enumerate(init.layers):
        assert isinstance(layer, nn.Linear)
        copy = nn.Linear(layer.in_features, layer.out_features, dtype=F64)
        copy.load_state_dict(layer.state_dict())
        mods += [copy] if k == len(init.layers) - 1 else [copy, nn.ReLU()]
    model = nn.Sequential(*mods)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    gen = torch.Generator().manual_seed(recipe.seed + 1)
    for _ in range(recipe.epochs):
        perm = torch.randperm(N, generator=gen)
        batch = recipe.batch_size or N
        for idx in (perm[s : s + batch] for s in range(0, N, batch)):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    return model


def test_training_matches_plain_reference(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    recipe = small_recipe()
    mine = run(recipe, x, y)
    ref = plain_reference(recipe, x, y)
    ref_linears = [m for m in ref if isinstance(m, nn.Linear)]
    for a, b in zip(mine.model.layers, ref_linears, strict=True):
        assert isinstance(a, nn.Linear)
        torch.testing.assert_close(a.weight, b.weight, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(a.bias, b.bias, rtol=1e-10, atol=1e-12)
    with torch.no_grad():
        torch.testing.assert_close(mine.model(x), ref(x))
        assert torch.equal(mine.model.predict(x), ref(x).argmax(1))
    assert len(mine.losses["train"]) == recipe.epochs


def test_loss_history_is_the_epoch_mean(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    # one full batch per epoch: the recorded loss is the loss before that epoch's step
    recipe = small_recipe(batch_size=None, epochs=1)
    mine = run(recipe, x, y)
    init = backprop.MLP(D, recipe.hidden, C, torch.Generator().manual_seed(recipe.seed), CPU, F64)
    with torch.no_grad():
        expected = float(F.cross_entropy(init(x), y))
    assert mine.losses["train"][0] == pytest.approx(expected, rel=1e-6)  # kept as float32


def test_predict_is_chunked_argmax(data: tuple[Tensor, Tensor]) -> None:
    x, _ = data
    gen = torch.Generator().manual_seed(0)
    model = backprop.MLP(D, (8,), C, gen, CPU, F64, predict_batch_size=7)
    with torch.no_grad():
        expected = model(x).argmax(1)
    predicted = model.predict(x)
    assert predicted.dtype == torch.int64
    assert torch.equal(predicted, expected)


def test_same_seed_is_bit_identical(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    recipe = small_recipe()
    a, b = run(recipe, x, y), run(recipe, x, y)
    c = run(dataclasses.replace(recipe, seed=5), x, y)
    for pa, pb, pc in zip(
        a.model.parameters(), b.model.parameters(), c.model.parameters(), strict=True
    ):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)
    assert a.losses == b.losses


def test_divergence_raises_a_clear_error(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    recipe = small_recipe(lr=1e20, epochs=6, nan_check_every=2)
    with pytest.raises(DivergenceError) as info:
        run(recipe, x.float(), y)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("train:")
    assert "lr=1e+20" in message
    assert "checked epochs 1-2" in message


@pytest.mark.parametrize(
    ("changes", "match"),
    [({"batch_size": 0}, "batch_size"), ({"lr": -1.0}, "lr"), ({"hidden": (4, 0)}, "hidden")],
)
def test_bad_recipes_are_rejected(
    data: tuple[Tensor, Tensor], changes: dict[str, object], match: str
) -> None:
    x, y = data
    with pytest.raises(RecipeError, match=match):
        run(small_recipe(**changes), x, y)


def test_subset_records_its_rows_in_the_full_split() -> None:
    from ff_algos.data import Split

    split = Split(torch.arange(30.0)[:, None], torch.arange(30))
    sub = split.subset(12, 3)
    assert sub.rows is not None
    assert torch.equal(sub.y, sub.rows)  # y is the row number here
    assert torch.equal(sub.rows, sub.rows.sort().values)
    assert split.subset(None, 3) is split
    assert split.subset(30, 3).rows is None


@pytest.mark.real_data
def test_dataloader_pipeline_yields_the_same_rows(real_data_root: Callable[[str], Path]) -> None:
    from ff_algos.data import load_dataset

    root = real_data_root("mnist")
    data = load_dataset("mnist", root=root)
    recipe = BPRecipe(name="test", train_size=300, batch_size=100, epochs=2, seed=2)
    train = data.train.subset(recipe.train_size, recipe.seed)
    epochs = list(itertools.islice(backprop.dataloader_epochs(recipe, data, train), 2))
    assert len(epochs) == 2
    batches = list(epochs[0])
    xs = torch.cat([b[0] for b in batches])
    ys = torch.cat([b[1] for b in batches])
    assert xs.shape == (300, 784)
    # the same rows and labels as the device tensors, normalised the same way (per sample),
    # in a shuffled order: compare after sorting both by a random projection of each row
    w = torch.randn(784, generator=torch.Generator().manual_seed(0))
    mine, theirs = torch.argsort(xs @ w), torch.argsort(train.x @ w)
    torch.testing.assert_close(xs[mine], train.x[theirs], rtol=1e-5, atol=1e-5)
    assert torch.equal(ys[mine], train.y[theirs])
    second = torch.cat([b[1] for b in epochs[1]])
    assert not torch.equal(second, ys)  # reshuffled every epoch

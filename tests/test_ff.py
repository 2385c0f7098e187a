"""Forward-Forward: the fast path against a plain reference written here (float64, small random
data), layer locality, determinism, the options, divergence."""

from __future__ import annotations

import dataclasses
import gc
import math
import weakref
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from ff_algos.errors import DivergenceError, RecipeError
from ff_algos.methods.common import overlay as ff
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.overlay import FFRecipe
from ff_algos.methods.common.reference import (
    plain_goodness,
    plain_goodness_per_label,
    plain_layer,
    plain_loss,
    plain_overlay,
    plain_train,
)

N, D, C, H = 40, 24, 5, 12
THETA = 2.0
CPU = torch.device("cpu")
F64 = torch.float64


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def data() -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(N, D, generator=gen, dtype=F64)
    y = torch.randint(0, C, (N,), generator=gen)
    return x, y


def linear(i: int, o: int, seed: int = 3) -> nn.Linear:
    return seeded_linear(i, o, torch.Generator().manual_seed(seed), CPU, F64)


def small_recipe(**changes: object) -> FFRecipe:
    base = FFRecipe(name="test", hidden=(H, H), epochs=3, lr=0.03, seed=11)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# ---- overlay, loss ------------------------------------------------------------------------------


def test_overlay_matches_reference(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    assert torch.equal(ff.overlay(x, y, C, x.max()), plain_overlay(x, y, C, x.max()))


def test_factored_overlay_is_the_direction_of_every_overlay(data: tuple[Tensor, Tensor]) -> None:
    x, _ = data
    f = ff.factor_overlay(x, C, x.max())
    for label in range(C):
        labels = torch.full((N,), label)
        expected = ff.direction(plain_overlay(x, labels, C, x.max()))
        rebuilt = f.base.clone()
        rebuilt[:, label] += f.coef
        torch.testing.assert_close(rebuilt, expected, rtol=1e-12, atol=1e-14)


def test_loss_matches_reference_and_stays_finite() -> None:
    gen = torch.Generator().manual_seed(0)
    g_pos, g_neg = (
        torch.rand(30, generator=gen, dtype=F64) * 4,
        torch.rand(30, generator=gen, dtype=F64) * 4,
    )
    torch.testing.assert_close(ff.ff_loss(g_pos, g_neg, THETA), plain_loss(g_pos, g_neg, THETA))
    # far past the threshold the reference's exp overflows; softplus does not
    big = torch.tensor([1000.0], dtype=torch.float32)
    assert math.isinf(float(plain_loss(big * 0, big, THETA)))
    assert float(ff.ff_loss(big * 0, big, THETA)) == pytest.approx(
        (math.log1p(math.exp(2.0)) + 998.0) / 2, rel=1e-6
    )


# ---- one step: loss and exact gradients ----------------------------------------------------------


def _autograd_grads(
    layer: nn.Linear, x_pos: Tensor, x_neg: Tensor, kind: str
) -> tuple[Tensor, Tensor, Tensor]:
    ref = linear(layer.in_features, layer.out_features)
    ref.load_state_dict(layer.state_dict())
    g_pos = plain_goodness(plain_layer(ref, x_pos), kind)
    loss = plain_loss(g_pos, plain_goodness(plain_layer(ref, x_neg), kind), THETA)
    loss.backward()  # type: ignore[no-untyped-call]
    assert ref.weight.grad is not None
    assert ref.bias.grad is not None
    return loss.detach(), ref.weight.grad, ref.bias.grad


@pytest.mark.parametrize("kind", ["mean", "sum"])
@pytest.mark.parametrize("batch", [None, [3, 17, 5, 0, 39]])
def test_first_layer_step_matches_autograd(
    data: tuple[Tensor, Tensor], kind: str, batch: list[int] | None
) -> None:
    x, y = data
    y_neg = torch.roll(y, 1)
    layer = linear(D, H)
    pairs = ff._OverlaidPairs(x, y, y_neg, C, x.max())
    idx = None if batch is None else torch.tensor(batch)
    loss = pairs.step(layer, idx, THETA, ff.goodness_scale(H, kind))  # type: ignore[arg-type]
    rows = slice(None) if batch is None else batch
    # the overlay value is the whole tensor's maximum, also for a mini-batch's rows
    x_pos, x_neg = plain_overlay(x, y, C, x.max())[rows], plain_overlay(x, y_neg, C, x.max())[rows]
    ref_loss_, ref_gw, ref_gb = _autograd_grads(layer, x_pos, x_neg, kind)
    torch.testing.assert_close(loss, ref_loss_)
    assert layer.weight.grad is not None
    assert layer.bias.grad is not None
    torch.testing.assert_close(layer.weight.grad, ref_gw)
    torch.testing.assert_close(layer.bias.grad, ref_gb)


@pytest.mark.parametrize("kind", ["mean", "sum"])
@pytest.mark.parametrize("batch", [None, [1, 2, 30]])
def test_deeper_layer_step_matches_autograd(kind: str, batch: list[int] | None) -> None:
    gen = torch.Generator().manual_seed(1)
    h_pos = torch.relu(torch.randn(N, H, generator=gen, dtype=F64))
    h_neg = torch.relu(torch.randn(N, H, generator=gen, dtype=F64))
    layer = linear(H, 7)
    pairs = ff._PlainPairs(torch.cat([h_pos, h_neg]))
    idx = None if batch is None else torch.tensor(batch)
    loss = pairs.step(layer, idx, THETA, ff.goodness_scale(7, kind))  # type: ignore[arg-type]
    rows = slice(None) if batch is None else batch
    ref_loss_, ref_gw, ref_gb = _autograd_grads(layer, h_pos[rows], h_neg[rows], kind)
    torch.testing.assert_close(loss, ref_loss_)
    assert layer.weight.grad is not None
    assert layer.bias.grad is not None
    torch.testing.assert_close(layer.weight.grad, ref_gw)
    torch.testing.assert_close(layer.bias.grad, ref_gb)


# ---- whole training and prediction against the plain reference ---------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"batch_size": 16},
        {"goodness": "sum", "lr": 0.01},
        {"negatives": "wrong_label", "hidden": (H, 6, 9)},
    ],
)
def test_training_matches_plain_reference(
    data: tuple[Tensor, Tensor], changes: dict[str, object]
) -> None:
    x, y = data
    recipe = small_recipe(**changes)
    fast = ff.train_ff(recipe, x, y, C)
    plain = plain_train(recipe, x, y, C)
    for mine, ref in zip(fast.model.linear_layers(), plain, strict=True):
        torch.testing.assert_close(mine.weight, ref.weight, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(mine.bias, ref.bias, rtol=1e-9, atol=1e-11)
    assert set(fast.losses) == {f"layer{k}" for k in range(1, len(recipe.hidden) + 1)}
    assert all(len(v) == recipe.epochs for v in fast.losses.values())


@pytest.mark.parametrize("kind", ["mean", "sum"])
def test_prediction_matches_reference_and_ignores_chunking(
    data: tuple[Tensor, Tensor], kind: str
) -> None:
    x, _ = data
    layers = [linear(D, H, 1), linear(H, 9, 2)]
    net = ff.FFNet(layers, C, kind, predict_batch_size=N)  # type: ignore[arg-type]
    expected = plain_goodness_per_label(layers, x, C, kind)
    torch.testing.assert_close(net.goodness_per_label(x), expected, rtol=1e-10, atol=1e-12)
    assert torch.equal(net.predict(x), expected.argmax(1))
    # chunks of 7 rows still overlay the whole split's maximum
    chunked = ff.FFNet(layers, C, kind, predict_batch_size=7)  # type: ignore[arg-type]
    torch.testing.assert_close(chunked.goodness_per_label(x), expected, rtol=1e-10, atol=1e-12)
    assert chunked.predict(x).dtype == torch.int64


# ---- locality, determinism, options -------------------------------------------------------------


def test_layer_gradients_come_only_from_its_own_loss(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    one = ff.train_ff(small_recipe(hidden=(H,)), x, y, C)
    two = ff.train_ff(small_recipe(hidden=(H, 6)), x, y, C)
    # layer 1 trains the same with or without a layer above it ...
    first_one, first_two = one.model.linear_layers()[0], two.model.linear_layers()[0]
    assert torch.equal(first_one.weight, first_two.weight)
    assert one.losses["layer1"] == two.losses["layer1"]
    # ... so training layer 2 left layer 1 untouched, and layer 1 never saw layer 2's loss;
    # and layer 1 did train (the equality is not that of two untrained layers)
    untrained = ff.train_ff(small_recipe(hidden=(H, 6), epochs=0), x, y, C)
    assert not torch.equal(untrained.model.linear_layers()[0].weight, first_two.weight)


def test_each_layers_inputs_are_freed_without_a_garbage_collection(
    data: tuple[Tensor, Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a layer's inputs, buffers and optimiser must not outlive its training (through a reference
    # cycle that only a full collection breaks): later phases would carry their memory
    x, y = data
    alive: list[weakref.ref[object]] = []
    for cls in (ff._OverlaidPairs, ff._PlainPairs):
        original = cls.__init__

        def init(self: object, *args: Any, _init: Any = original, **kw: Any) -> None:
            _init(self, *args, **kw)
            alive.append(weakref.ref(self))

        monkeypatch.setattr(cls, "__init__", init)
    # the first optimiser a process builds keeps its caller's frame alive (a one-time cache inside
    # torch); build it here, as the suite's warm-up does before the measured run
    torch.optim.Adam(nn.Linear(2, 2).parameters())
    gc.collect()
    gc.disable()
    try:
        fitted = ff.train_ff(small_recipe(hidden=(H, 7, 6)), x, y, C)
        assert len(alive) == 3
        assert [ref() is None for ref in alive] == [True, True, True]
    finally:
        gc.enable()
    assert fitted.model.predict(x).shape == (x.shape[0],)


def test_same_seed_is_bit_identical_and_seed_matters(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    recipe = small_recipe(batch_size=8)
    a, b = ff.train_ff(recipe, x, y, C), ff.train_ff(recipe, x, y, C)
    other = ff.train_ff(dataclasses.replace(recipe, seed=12), x, y, C)
    for pa, pb, po in zip(
        a.model.parameters(), b.model.parameters(), other.model.parameters(), strict=True
    ):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, po)
    assert a.losses == b.losses
    assert torch.equal(a.model.predict(x), b.model.predict(x))


def test_negative_labels() -> None:
    y = torch.randint(0, 10, (20000,), generator=torch.Generator().manual_seed(0))
    wrong = ff.negative_labels(y, 10, "wrong_label", torch.Generator().manual_seed(1))
    assert not bool((wrong == y).any())
    assert set(wrong.tolist()) == set(range(10))
    permuted = ff.negative_labels(y, 10, "permute", torch.Generator().manual_seed(1))
    assert torch.equal(permuted.sort().values, y.sort().values)  # a permutation of the labels
    kept = float((permuted == y).double().mean())
    assert 0.08 < kept < 0.12  # about 1/C keep the true label
    with pytest.raises(RecipeError, match="negatives"):
        ff.negative_labels(y, 10, "nonsense", torch.Generator())


def test_goodness_sum_is_a_different_function(data: tuple[Tensor, Tensor]) -> None:
    x, _ = data
    layers = [linear(D, H, 1), linear(H, 9, 2)]
    mean = ff.FFNet(layers, C, "mean").goodness_per_label(x)
    total = ff.FFNet(layers, C, "sum").goodness_per_label(x)
    # per layer, sum = width · mean
    h1 = plain_goodness_per_label(layers[:1], x, C, "mean")
    torch.testing.assert_close(total, (mean - h1) * 9 + h1 * H)


def test_divergence_raises_a_clear_error(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    recipe = small_recipe(lr=1e30, epochs=20, nan_check_every=5)
    with pytest.raises(DivergenceError) as info:
        ff.train_ff(recipe, x.float(), y, C)
    message = str(info.value)
    assert "\n" not in message
    assert "layer1" in message
    assert "lr=1e+30" in message
    assert "checked epochs 1-5" in message


def test_observer_sees_every_layer_and_epoch(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    calls: list[tuple[str, object]] = []

    class Record:
        def phase_start(self, name: str, epochs: int) -> None:
            calls.append(("start", (name, epochs)))

        def epoch_end(self, epoch: int) -> None:
            calls.append(("epoch", epoch))

        def phase_end(self) -> None:
            calls.append(("end", None))

    ff.train_ff(small_recipe(epochs=2), x, y, C, Record())
    assert calls == [
        ("start", ("layer1", 2)),
        ("epoch", 0),
        ("epoch", 1),
        ("end", None),
        ("start", ("layer2", 2)),
        ("epoch", 0),
        ("epoch", 1),
        ("end", None),
    ]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"hidden": ()}, "at least one layer"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
    ],
)
def test_bad_recipes_are_rejected(
    data: tuple[Tensor, Tensor], changes: dict[str, object], match: str
) -> None:
    x, y = data
    with pytest.raises(RecipeError, match=match):
        ff.train_ff(small_recipe(**changes), x, y, C)


def test_too_many_classes_for_the_input_is_rejected() -> None:
    x = torch.randn(8, 4)
    with pytest.raises(RecipeError, match="cannot be overlaid"):
        ff.train_ff(small_recipe(), x, torch.zeros(8, dtype=torch.long), 4)


def test_float32_matches_float64_closely(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    recipe = small_recipe()
    a = ff.train_ff(recipe, x, y, C)
    b = ff.train_ff(recipe, x.float(), y, C)
    wa, wb = a.model.linear_layers()[0].weight, b.model.linear_layers()[0].weight
    assert wb.dtype == torch.float32
    torch.testing.assert_close(wb.double(), wa, rtol=1e-3, atol=1e-4)

"""Class-group FF on an MLP (``ff_group``): the loss against a plain float64 reference, locality
(each layer's gradient from its own loss only), prediction, shifts, seeds and recipe errors."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError
from ff_algos.methods import ff_group as fg
from ff_algos.methods.common.goodness import group_goodness, rms_normalise

C = 4
INFO = DatasetInfo("blobs", "Blobs", C, (1, 4, 5), (0.0,), (1.0,), 200, 100)  # D = 20
D = INFO.input_size
RECIPE = dataclasses.replace(fg.TINY, hidden=(12, 8), shift=0, train_size=None)


def blobs(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` rows around one fixed centre per class (nonnegative, like pixels)."""
    centres = torch.rand(C, D, generator=torch.Generator().manual_seed(99)) * 2
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, C, (n,), generator=gen)
    return (centres[y] + 0.3 * torch.rand(n, D, generator=gen)).clamp(min=0), y


def ref_losses(layers: list[nn.Linear], x: Tensor, y: Tensor, temperature: float) -> list[Tensor]:
    """Each layer's loss written plainly in float64: unit j belongs to class j // (H / C)."""
    u = x.double() / torch.sqrt((x.double() ** 2).mean(1, keepdim=True) + 1e-12)
    out = []
    for layer in layers:
        h = torch.relu(u @ layer.weight.double().T + layer.bias.double())
        size = h.shape[1] // C
        g = torch.stack([h[:, c * size : (c + 1) * size].pow(2).mean(1) for c in range(C)], 1)
        out.append(-torch.log_softmax(g / temperature, 1)[torch.arange(len(y)), y].mean())
        u = (h / torch.sqrt((h**2).mean(1, keepdim=True) + 1e-12)).detach()
    return out


def test_losses_match_the_plain_reference() -> None:
    x, y = blobs(30, 1)
    net = fg.train_group_ff(RECIPE, x, y, INFO).model
    got = fg.layer_losses(net, rms_normalise(x), y)
    want = ref_losses(net.linear_layers(), x, y, RECIPE.temperature)
    assert torch.allclose(got.double(), torch.stack(want), atol=1e-5)


def test_each_layer_gets_the_gradient_of_its_own_loss_only() -> None:
    x, y = blobs(30, 2)
    net = fg.train_group_ff(RECIPE, x, y, INFO).model
    layers = net.linear_layers()
    net.zero_grad()  # training leaves its last step's gradients
    fg.layer_losses(net, rms_normalise(x), y).sum().backward()  # type: ignore[no-untyped-call]
    together = [layer.weight.grad.clone() for layer in layers]  # type: ignore[union-attr]
    for k, layer in enumerate(layers):
        net.zero_grad()
        fg.layer_losses(net, rms_normalise(x), y)[k].backward()  # type: ignore[no-untyped-call]
        assert torch.allclose(layer.weight.grad, together[k], atol=1e-6)  # type: ignore[arg-type]


def test_prediction_sums_each_voting_layers_log_softmax() -> None:
    x, y = blobs(60, 3)
    recipe = dataclasses.replace(RECIPE, goodness_from=2)
    net = fg.train_group_ff(recipe, x, y, INFO).model
    u = rms_normalise(x)
    h1 = torch.relu(net.linear_layers()[0](u))
    h2 = torch.relu(net.linear_layers()[1](rms_normalise(h1)))
    want = F.log_softmax(group_goodness(h2, C) / recipe.temperature, 1)  # layer 2 only
    assert torch.allclose(net.votes(x), want, atol=1e-5)
    net.predict_batch_size = 7  # chunking gives the same labels
    assert torch.equal(net.predict(x), want.argmax(1))


def test_it_learns_blobs_and_one_seed_gives_one_network() -> None:
    x, y = blobs(200, 4)
    recipe = dataclasses.replace(RECIPE, hidden=(40, 40), epochs=10)
    a = fg.train_group_ff(recipe, x, y, INFO)
    b = fg.train_group_ff(recipe, x, y, INFO)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert a.losses == b.losses
    assert sorted(a.losses) == ["layer1", "layer2"]
    assert all(len(v) == 10 for v in a.losses.values())
    xt, yt = blobs(100, 5)
    assert (a.model.predict(xt) == yt).float().mean() > 0.9
    c = fg.train_group_ff(dataclasses.replace(recipe, seed=1), x, y, INFO)
    assert not torch.equal(a.model.linear_layers()[0].weight, c.model.linear_layers()[0].weight)


def test_shifted_images_train_a_different_network() -> None:
    x, y = blobs(50, 6)
    still = fg.train_group_ff(RECIPE, x, y, INFO)
    moved = fg.train_group_ff(dataclasses.replace(RECIPE, shift=1), x, y, INFO)
    assert still.options["shift"] == 0
    assert moved.options["shift"] == 1
    assert not torch.equal(
        still.model.linear_layers()[0].weight, moved.model.linear_layers()[0].weight
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hidden": (10, 8)}, "layer 1 has 10 units, not a positive multiple of blobs's 4"),
        ({"hidden": ()}, "hidden=() has no layer"),
        ({"shift": 4}, "shift=4 must be 0..3 pixels for 4x5 images"),
        ({"goodness_from": 3}, "goodness_from=3 must name a layer 1..2"),
        ({"temperature": 0.0}, "temperature=0.0 must be positive"),
        ({"compile": "inductor"}, "not supported by ff_group"),
        ({"epochs": 0}, "epochs=0 trains nothing"),
    ],
)
def test_bad_recipes_are_one_line_errors(changes: dict[str, object], message: str) -> None:
    with pytest.raises(RecipeError, match=re.escape(message)) as info:
        fg.validate_group_ff(dataclasses.replace(RECIPE, **changes), INFO)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_model_flops_by_hand() -> None:
    recipe = dataclasses.replace(RECIPE, hidden=(12, 8), epochs=3)
    p = D * 12 + 12 * 8
    flops = recipe.flops(50, INFO)
    assert flops.forward == flops.backward == 3 * 50 * 2 * p
    assert flops.predict_for(10) == 10 * 2 * p
    assert recipe.executed_flops(50, INFO) == {"train": flops.train}

"""ff_conv and bp_conv: the channel-wise competitive loss against a plain float64 reference,
locality, executed FLOPs against FlopCounterMode on 1- and 3-channel images, shapes that do not
fit refused in one line, determinism, learning, and the tiny CIFAR/SVHN files."""

from __future__ import annotations

import copy
import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from ff_algos import registry
from ff_algos.data import DatasetInfo, LoadedDataset, Split, dataset_info, load_dataset
from ff_algos.errors import RecipeError
from ff_algos.fitting import accuracy, fit
from ff_algos.method import NullObserver
from ff_algos.methods import bp_conv as bc
from ff_algos.methods import ff_conv as fc
from ff_algos.methods.common.conv import block_shapes, seeded_conv
from ff_algos.suite.overrides import _parse
from ff_algos.telemetry import EpochClock

F64 = torch.float64


def synthetic(name: str, n_train: int = 120, n_test: int = 60) -> LoadedDataset:
    """Images of ``name``'s shape with a learnable signal: a bright square whose place is the
    class."""
    info = dataset_info(name)
    gen = torch.Generator().manual_seed(0)
    c, h, w = info.image_shape
    y = torch.arange(n_train + n_test) % info.num_classes
    x = torch.randn(n_train + n_test, c, h, w, generator=gen) * 0.3
    for i, label in enumerate(y.tolist()):
        r, col = divmod(label % 16, 4)
        x[i, :, r * 6 : r * 6 + 4, col * 6 : col * 6 + 4] += 2.0
    flat = x.reshape(len(y), -1)
    return LoadedDataset(
        info=info,
        train=Split(flat[:n_train], y[:n_train]),
        test=Split(flat[n_train:], y[n_train:]),
        root=Path("."),
        load_seconds=0.0,
        source="synthetic",
    )


# ---- the plain reference, float64 ---------------------------------------------------------


def ref_block_loss(
    weight: Tensor, bias: Tensor, u: Tensor, y: Tensor, classes: int, temperature: float
) -> Tensor:
    """The loss written plainly: every class's goodness summed channel by channel."""
    h = torch.relu(F.conv2d(u, weight, bias, padding=weight.shape[-1] // 2))
    per = h.shape[1] // classes
    goodness = torch.stack(
        [
            torch.stack([h[:, c * per + j].pow(2).sum((1, 2)) for j in range(per)]).sum(0)
            / (per * h[0, 0].numel())
            for c in range(classes)
        ],
        1,
    )
    log_p = goodness / temperature - torch.logsumexp(goodness / temperature, 1, keepdim=True)
    return -log_p[torch.arange(len(y)), y].mean()


def test_block_loss_and_gradient_match_the_plain_reference() -> None:
    info = dataset_info("mnist")
    shape = block_shapes((3,), (3,), (2,), info)[0]
    gen = torch.Generator().manual_seed(1)
    conv = seeded_conv(shape, gen, torch.device("cpu")).to(F64)
    u = torch.randn(6, 1, 28, 28, generator=gen, dtype=F64)
    y = torch.tensor([0, 3, 9, 1, 1, 5])
    loss = fc.block_loss(conv, u, y, 10, 0.3)
    ref_w = conv.weight.detach().clone().requires_grad_()
    assert conv.bias is not None
    ref_b = conv.bias.detach().clone().requires_grad_()
    ref = ref_block_loss(ref_w, ref_b, u, y, 10, 0.3)
    assert torch.allclose(loss, ref, rtol=1e-12, atol=0)
    loss.backward()  # type: ignore[no-untyped-call]
    ref.backward()  # type: ignore[no-untyped-call]
    assert conv.weight.grad is not None
    assert ref_w.grad is not None
    assert torch.allclose(conv.weight.grad, ref_w.grad, rtol=1e-10, atol=1e-14)


def test_blocks_train_locally_and_the_same_seed_repeats() -> None:
    """A block's weights are final once its phase ends: training more blocks or a head after it
    leaves them bit-identical (no gradient reaches down), and a seed repeats exactly."""
    data = synthetic("mnist")
    tiny = dataclasses.replace(fc.TINY, train_size=None)
    one = dataclasses.replace(tiny, maps=(1,), kernels=(3,), pools=(2,), head_epochs=0)
    two = dataclasses.replace(tiny, head_epochs=2, epochs=1)
    a = fit(one, data).model
    b = fit(two, data).model
    c = fit(two, data).model
    assert isinstance(a, fc.ConvFFNet)
    assert isinstance(b, fc.ConvFFNet)
    assert isinstance(c, fc.ConvFFNet)
    assert torch.equal(a.blocks()[0][0].weight, b.blocks()[0][0].weight)
    for p, q in zip(b.parameters(), c.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize("dataset", ["mnist", "cifar10", "cifar100"])
@pytest.mark.parametrize("name", ["ff_conv", "bp_conv"])
def test_executed_flops_match_the_flop_counter(name: str, dataset: str) -> None:
    method = registry.get(name)
    data = synthetic(dataset, n_train=200 if dataset == "cifar100" else 64, n_test=20)
    recipe = dataclasses.replace(method.recipes["tiny"], train_size=None, batch_size=24)
    clock = EpochClock(torch.device("cpu"))
    with FlopCounterMode(display=False) as counter:
        result = fit(recipe, data, observer=clock)
    executed = method.executed_flops(recipe, len(data.train), data.info)
    assert counter.get_total_flops() == sum(executed.values())
    assert set(executed) == set(clock.result().per_epoch)
    flops = method.flops(recipe, len(data.train), data.info)
    assert flops.train <= sum(executed.values())
    with FlopCounterMode(display=False) as counter:
        result.model.predict(data.test.x)
    assert counter.get_total_flops() == flops.predict_for(len(data.test))


def test_shapes_that_do_not_fit_are_one_line_errors() -> None:
    info = dataset_info("mnist")
    with pytest.raises(RecipeError, match=r"layer 5 \(conv 3x3, pool 2\) gets a 10x1x1 input") as e:
        block_shapes((1,) * 5, (3,) * 5, (2,) * 5, info)
    assert "\n" not in str(e.value)
    assert "pools=" in str(e.value)
    with pytest.raises(RecipeError, match="one entry per conv layer"):
        block_shapes((1, 2), (3,), (2, 2), info)
    with pytest.raises(RecipeError, match="kernel 4 must be odd"):
        block_shapes((1,), (4,), (2,), info)
    for name in ("ff_conv", "bp_conv"):
        recipe = dataclasses.replace(registry.recipe(name, "quick"), maps=(1,) * 6)
        recipe = dataclasses.replace(recipe, kernels=(3,) * 6, pools=(2,) * 6)
        with pytest.raises(RecipeError, match="layer 5"):
            registry.get(name).validate(recipe, info)
        for dataset in ("mnist", "fashion_mnist", "cifar10", "cifar100", "svhn"):
            for r in registry.get(name).recipes.values():
                registry.get(name).validate(r, dataset_info(dataset))


def test_recipe_fields_validate() -> None:
    info: DatasetInfo = dataset_info("mnist")
    bad = [
        (dict(goodness_from=3), "goodness_from=3 must name a block 1..2"),
        (dict(temperature=0.0), "temperature=0.0 must be positive"),
        (dict(compile="inductor"), "not supported by ff_conv"),
        (dict(head_epochs=1, head_lr=0.0), "head_lr=0.0 must be positive"),
    ]
    for change, message in bad:
        with pytest.raises(RecipeError, match=message):
            fc.validate_conv_ff(dataclasses.replace(fc.QUICK, **change), info)  # type: ignore[arg-type]
    with pytest.raises(RecipeError, match="not supported by bp_conv"):
        bc.validate_conv_bp(dataclasses.replace(bc.QUICK, compile="cudagraphs"), info)
    assert _parse("2,2,1", tuple[int, ...]) == (2, 2, 1)


@pytest.mark.parametrize("name", ["ff_conv", "bp_conv"])
def test_both_learn_a_synthetic_signal(name: str) -> None:
    data = synthetic("mnist", n_train=400, n_test=100)
    recipe = dataclasses.replace(registry.recipe(name, "tiny"), epochs=4, lr=3e-3, train_size=None)
    if name == "ff_conv":
        recipe = dataclasses.replace(recipe, temperature=0.1, head_epochs=4)
    result = fit(recipe, data)
    assert accuracy(result.model, data.test) > (0.5 if name == "bp_conv" else 0.2)  # chance 0.1
    for predictor in result.predictors.values():  # ff_conv's head
        assert accuracy(predictor, data.test) > 0.5


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "svhn"])
def test_tiny_canonical_files_train_with_three_channels(
    tmp_path: Path, dataset: str, publish: Callable[[Path, str], dict[str, str]]
) -> None:
    formats = importlib.import_module("test_data_formats")  # the tiny canonical-file writers
    write_cifar, write_svhn = formats.write_cifar, formats.write_svhn
    if dataset == "svhn":
        write_svhn(tmp_path / "train_32x32.mat")
        write_svhn(tmp_path / "test_32x32.mat", n=5)
    else:
        write_cifar(tmp_path, dataset)
    publish(tmp_path, dataset)
    data = load_dataset(dataset, root=tmp_path)
    assert data.info.image_shape[0] == 3
    for name in ("ff_conv", "bp_conv"):
        recipe = dataclasses.replace(registry.recipe(name, "tiny"), train_size=None)
        result = fit(recipe, data)
        assert 0.0 <= accuracy(result.model, data.test) <= 1.0


@pytest.mark.parametrize(("head_epochs", "shift"), [(0, 0), (1, 2)])
def test_blocks_trained_together_count_their_flops_and_learn(head_epochs: int, shift: int) -> None:
    data = synthetic("mnist", n_train=400, n_test=100)
    recipe = dataclasses.replace(
        fc.TINY,
        training="together",
        shift=shift,
        epochs=4,
        lr=3e-3,
        head_epochs=head_epochs,
        train_size=None,
        batch_size=50,
    )
    clock = EpochClock(torch.device("cpu"))
    with FlopCounterMode(display=False) as counter:
        result = fit(recipe, data, observer=clock)
    executed = fc.METHOD.executed_flops(recipe, len(data.train), data.info)
    assert counter.get_total_flops() == sum(executed.values())
    assert list(clock.result().per_epoch) == ["train", "head"][: 1 + int(head_epochs > 0)]
    assert result.options["training"] == "together"
    assert accuracy(result.model, data.test) > 0.2  # chance 0.1
    again = fit(recipe, data).model
    assert isinstance(result.model, fc.ConvFFNet)
    assert isinstance(again, fc.ConvFFNet)
    for p, q in zip(result.model.parameters(), again.parameters(), strict=True):
        assert torch.equal(p, q)


def test_together_trains_each_block_on_its_own_loss() -> None:
    """One summed backward gives each block the gradient of its own loss: a block's gradient
    is unchanged when the blocks above it are given other weights."""
    data = synthetic("mnist", n_train=64, n_test=10)
    recipe = dataclasses.replace(fc.TINY, training="together", train_size=None, head_epochs=0)
    net = fit(recipe, data).model
    assert isinstance(net, fc.ConvFFNet)
    other = copy.deepcopy(net)
    with torch.no_grad():
        other.blocks()[1][0].weight.mul_(3.0)
    grads = []
    for model in (net, other):
        model.zero_grad()
        fc.fit_together(
            dataclasses.replace(recipe, epochs=1, lr=1e-12),
            model,
            data.train.x,
            data.train.y,
            NullObserver(),
            torch.Generator().manual_seed(0),
        )
        grads.append(model.blocks()[0][0].weight.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_shift_needs_blocks_trained_together() -> None:
    info = dataset_info("mnist")
    with pytest.raises(RecipeError, match="shift=2 needs --set training=together") as e:
        fc.validate_conv_ff(dataclasses.replace(fc.QUICK, shift=2), info)
    assert "\n" not in str(e.value)
    with pytest.raises(RecipeError, match=r"shift=28 must be 0\.\.27 pixels"):
        fc.validate_conv_ff(dataclasses.replace(fc.QUICK, shift=28, training="together"), info)
    with pytest.raises(RecipeError, match="training='sideways' is unknown"):
        fc.validate_conv_ff(dataclasses.replace(fc.QUICK, training="sideways"), info)  # type: ignore[arg-type]


def test_bp_conv_with_shifts_counts_the_same_flops() -> None:
    data = synthetic("mnist", n_train=100, n_test=20)
    recipe = dataclasses.replace(bc.TINY, shift=2, train_size=None)
    with FlopCounterMode(display=False) as counter:
        result = fit(recipe, data)
    assert counter.get_total_flops() == sum(
        bc.METHOD.executed_flops(recipe, 100, data.info).values()
    )
    assert result.options["shift"] == 2
    with pytest.raises(RecipeError, match=r"shift=28 must be 0\.\.27 pixels"):
        bc.validate_conv_bp(dataclasses.replace(bc.QUICK, shift=28), dataset_info("mnist"))


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("ff_conv", {"training": "together", "shift": 1}),
        ("ff_conv", {"training": "greedy"}),
        ("bp_conv", {"shift": 1}),
    ],
)
def test_channels_last_trains_the_same_network_up_to_rounding(
    name: str, changes: dict[str, object]
) -> None:
    data = synthetic("mnist", n_train=400, n_test=100)
    recipe = dataclasses.replace(
        registry.recipe(name, "tiny"), epochs=2, lr=3e-3, train_size=None, **changes
    )
    plain = fit(recipe, data)
    fast = fit(dataclasses.replace(recipe, channels_last=True), data)
    assert fast.options["channels_last"] is True
    assert plain.options["channels_last"] is False
    assert isinstance(plain.model, torch.nn.Module)
    assert isinstance(fast.model, torch.nn.Module)
    conv = next(m for m in fast.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    for phase, losses in plain.losses.items():
        assert fast.losses[phase] == pytest.approx(losses, rel=1e-4)
    for p, q in zip(plain.model.parameters(), fast.model.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-3, atol=1e-4)
    agree = (plain.model.predict(data.test.x) == fast.model.predict(data.test.x)).float().mean()
    assert agree >= 0.98

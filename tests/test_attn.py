"""The attention pair (``ff_attn``, ``bp_attn``): the explicit attention against PyTorch's fused
reference in float64, the per-block FLOP formulas against ``FlopCounterMode``, locality (no
gradient crosses a block), the class-group goodness against a plain loop, and one-line recipe
errors. The method contract (tiny recipe fits, executed FLOPs exact) is in
``tests/test_method_contract.py``."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ff_algos import registry
from ff_algos.data import dataset_info, load_dataset
from ff_algos.errors import RecipeError
from ff_algos.fitting import accuracy, fit
from ff_algos.methods import bp_attn, ff_attn
from ff_algos.methods.common.attn import AttnShape, attn_shape, patches, seeded_modules

MNIST = dataset_info("mnist")


def small_shape(blocks: int = 2) -> AttnShape:
    return attn_shape(patch=7, maps=2, heads=2, mlp_ratio=2, blocks=blocks, info=MNIST)


def test_shapes_on_every_dataset() -> None:
    for name, tokens, dim in [
        ("mnist", 49, 80),
        ("fashion_mnist", 49, 80),
        ("cifar10", 64, 80),
        ("svhn", 64, 80),
        ("cifar100", 64, 800),
    ]:
        s = attn_shape(4, 8, 4, 2, 3, dataset_info(name))
        assert (s.tokens, s.dim, s.hidden) == (tokens, dim, 2 * dim)
        assert s.patch_size == s.channels * 16


def test_max_width_caps_the_features_per_class() -> None:
    cifar100 = dataset_info("cifar100")
    assert ff_attn.QUICK.shape(MNIST).dim == 60  # 6 per class, under the cap of 120
    assert ff_attn.QUICK.shape(cifar100).dim == 100  # 1 per class, not 6
    assert ff_attn.SEED.shape(cifar100).dim == 200  # 2 per class under 240, not 8
    assert attn_shape(4, 8, 4, 2, 3, cifar100, max_width=0).dim == 800


def test_patches_cut_the_image_in_row_major_order() -> None:
    s = small_shape()
    x = torch.arange(2 * 784, dtype=torch.float32).view(2, 784)
    p = patches(x, s)  # (2, 16, 49)
    img = x.view(2, 28, 28)
    assert p.shape == (2, 16, 49)
    assert torch.equal(p[1, 5], img[1, 7:14, 7:14].reshape(49))  # patch row 1, column 1


def test_attention_matches_scaled_dot_product_attention_in_float64() -> None:
    s = small_shape()
    _, blocks = seeded_modules(s, torch.Generator().manual_seed(0), torch.device("cpu"))
    block = blocks[0].double()
    a = torch.randn(3, s.tokens, s.dim, dtype=torch.float64)
    qkv = block.qkv(a).view(3, s.tokens, 3, s.heads, s.dim // s.heads).permute(2, 0, 3, 1, 4)
    ref = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
    ref = ref.transpose(1, 2).reshape(3, s.tokens, s.dim)
    torch.testing.assert_close(block.attention(a), ref)


@pytest.mark.parametrize("input_grad", [False, True])
def test_block_flops_match_the_flop_counter(input_grad: bool) -> None:
    s = small_shape()
    embed, blocks = seeded_modules(s, torch.Generator().manual_seed(0), torch.device("cpu"))
    u = torch.randn(5, s.tokens, s.dim, requires_grad=input_grad)
    with FlopCounterMode(display=False) as forward:
        z = blocks[0](u)
    with FlopCounterMode(display=False) as backward:
        z.square().sum().backward()
    assert forward.get_total_flops() == 5 * s.block_flops
    assert backward.get_total_flops() == 5 * s.block_backward_flops(input_grad)
    with FlopCounterMode(display=False) as emb:
        embed(torch.randn(5, 784))
    assert emb.get_total_flops() == 5 * s.embed_flops


def test_group_goodness_is_the_mean_square_of_each_class_group() -> None:
    z = torch.randn(2, 3, 20)  # 10 classes x 2 features
    g = ff_attn.token_group_goodness(z, 10)
    for c in range(10):
        torch.testing.assert_close(g[:, c], z[:, :, 2 * c : 2 * c + 2].square().mean((1, 2)))


def test_no_gradient_crosses_a_block() -> None:
    s = small_shape()
    embed, blocks = seeded_modules(s, torch.Generator().manual_seed(0), torch.device("cpu"))
    x, y = torch.randn(4, 784), torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        u2 = ff_attn.normalise(ff_attn.stage(embed, blocks[0], True, x))
    loss = ff_attn.block_loss(ff_attn.stage(embed, blocks[1], False, u2), y, 10, 0.1)
    loss.backward()  # type: ignore[no-untyped-call]
    assert all(p.grad is None for p in [*embed.parameters(), *blocks[0].parameters()])
    assert all(p.grad is not None for p in blocks[1].parameters())


def test_ff_attn_learns_a_separable_signal() -> None:
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 10
    x = torch.randn(400, 784, generator=gen) * 0.3
    x[torch.arange(400), 100 + y * 49] += 4.0  # one bright pixel per class, in its own patch
    recipe = dataclasses.replace(ff_attn.TINY, epochs=10, lr=1e-2, head_epochs=3, train_size=None)
    fitted = ff_attn.train_attn_ff(recipe, x[:300], y[:300], MNIST)
    assert fitted.model.predict(x[300:]).eq(y[300:]).float().mean() > 0.6  # chance: 0.1
    assert fitted.model.predict_head(x[300:]).eq(y[300:]).float().mean() > 0.6
    assert set(fitted.losses) == {"layer1", "layer2", "head"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("patch", 5, "patch=5 does not divide mnist's 1x28x28 images"),
        ("heads", 3, "heads=3 does not divide the width 20"),
        ("blocks", 0, "blocks=0 builds no transformer block"),
        ("compile", "max-autotune", "eager only"),
        ("precision", "fp8", "precision='fp8' is unknown"),
    ],
)
def test_recipe_errors_are_one_line(field: str, value: object, message: str) -> None:
    methods: tuple[Any, ...] = (ff_attn.METHOD, bp_attn.METHOD)
    for method in methods:
        recipe = dataclasses.replace(method.recipes["tiny"], **{field: value})
        with pytest.raises(RecipeError, match=message) as err:
            method.validate(recipe, MNIST)
        assert "\n" not in str(err.value)


def test_ff_attn_goodness_from_is_checked() -> None:
    recipe = dataclasses.replace(ff_attn.TINY, goodness_from=3)
    with pytest.raises(RecipeError, match=r"goodness_from=3 must name a block 1\.\.2"):
        ff_attn.METHOD.validate(recipe, MNIST)


def test_the_pair_shares_its_architecture() -> None:
    for name in ("tiny", "quick", "seed"):
        f, b = ff_attn.RECIPES[name], bp_attn.RECIPES[name]
        assert f.shape(MNIST) == b.shape(MNIST)
        for info in (MNIST, dataset_info("cifar100")):
            assert f.shape(info) == b.shape(info)
        assert (f.epochs, f.batch_size, f.lr, f.schedule, f.train_size) == (
            b.epochs,
            b.batch_size,
            b.lr,
            b.schedule,
            b.train_size,
        )


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "svhn"])
def test_tiny_canonical_files_train_with_three_channels(
    tmp_path: Path, dataset: str, publish: Callable[[Path, str], dict[str, str]]
) -> None:
    formats = importlib.import_module("test_data_formats")  # the tiny canonical-file writers
    if dataset == "svhn":
        formats.write_svhn(tmp_path / "train_32x32.mat")
        formats.write_svhn(tmp_path / "test_32x32.mat", n=5)
    else:
        formats.write_cifar(tmp_path, dataset)
    publish(tmp_path, dataset)
    data = load_dataset(dataset, root=tmp_path)
    for name in ("ff_attn", "bp_attn"):
        recipe = dataclasses.replace(registry.recipe(name, "tiny"), train_size=None)
        result = fit(recipe, data)
        assert result.options["tokens"] == 64  # 8x8 patches of 4x4 pixels
        for model in (result.model, *result.predictors.values()):
            assert 0.0 <= accuracy(model, data.test) <= 1.0

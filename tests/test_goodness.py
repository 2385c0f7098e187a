"""The fused relu-and-goodness step and the CPU pooling route give the plain autograd chain's
values and gradients bit for bit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ff_algos.methods.common.conv import max_pool
from ff_algos.methods.common.goodness import (
    competitive_loss,
    goodness_loss,
    group_goodness,
    relu_group_goodness,
)


@pytest.mark.parametrize(
    "shape", [(16, 40, 28, 28), (8, 20, 7, 7), (32, 60)], ids=["conv", "conv-odd", "mlp"]
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_relu_group_goodness_is_the_plain_chain_bit_for_bit(
    shape: tuple[int, ...], dtype: torch.dtype
) -> None:
    gen = torch.Generator().manual_seed(len(shape))
    z = torch.randn(shape, generator=gen, dtype=dtype)
    y = torch.randint(0, 10, (shape[0],), generator=gen)

    plain = z.clone().requires_grad_()
    loss_plain = goodness_loss(torch.relu(plain), y, 10, 0.1)
    loss_plain.backward()  # type: ignore[no-untyped-call]

    fused = z.clone().requires_grad_()
    g, h = relu_group_goodness(fused, 10)
    loss_fused = competitive_loss(g, y, 0.1)
    loss_fused.backward()  # type: ignore[no-untyped-call]

    assert torch.equal(g, group_goodness(torch.relu(z), 10))
    assert torch.equal(h, torch.relu(z))
    assert not h.requires_grad
    assert torch.equal(loss_fused, loss_plain)
    assert fused.grad is not None
    assert plain.grad is not None
    assert torch.equal(fused.grad, plain.grad)
    assert fused.grad.abs().sum() > 0  # a gradient that could differ


def test_relu_group_goodness_scales_the_gradient_by_the_group_size() -> None:
    z = torch.full((1, 4, 2, 2), 3.0, requires_grad=True)  # 2 classes, 8 entries per group
    g, _ = relu_group_goodness(z, 2)
    assert torch.equal(g, torch.full((1, 2), 9.0))
    g[0, 0].backward()  # type: ignore[no-untyped-call]
    assert z.grad is not None
    expected = torch.zeros(1, 4, 2, 2)
    expected[0, :2] = 2 * 3.0 / 8  # d mean(h²) / dh over the first group's 8 entries
    assert torch.equal(z.grad, expected)


@pytest.mark.parametrize("pool", [1, 2, 3])
def test_max_pool_is_torchs_bit_for_bit(pool: int) -> None:
    h = torch.relu(torch.randn(4, 6, 14, 14, generator=torch.Generator().manual_seed(pool)))
    out = max_pool(h, pool)
    assert torch.equal(out, F.max_pool2d(h, pool) if pool > 1 else h)
    assert out.is_contiguous()


def test_max_pool_passes_the_gradient_to_the_maxima() -> None:
    h = torch.relu(torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)))
    a, b = h.clone().requires_grad_(), h.clone().requires_grad_()
    max_pool(a, 2).square().sum().backward()  # type: ignore[no-untyped-call]
    F.max_pool2d(b, 2).square().sum().backward()  # type: ignore[no-untyped-call]
    assert a.grad is not None
    assert b.grad is not None
    assert torch.equal(torch.relu(h).gt(0) * a.grad, torch.relu(h).gt(0) * b.grad)


def test_a_channels_last_activity_gives_the_same_goodness_and_gradient_up_to_rounding() -> None:
    z = torch.randn(8, 40, 14, 14, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = torch.arange(8) % 10
    grads = []
    for layout in (torch.contiguous_format, torch.channels_last):
        leaf = z.clone().contiguous(memory_format=layout).requires_grad_()
        g, h = relu_group_goodness(leaf, 10)
        assert h.is_contiguous(memory_format=layout)
        torch.testing.assert_close(g, group_goodness(torch.relu(z), 10), rtol=1e-12, atol=0)
        competitive_loss(g, y, 0.1).backward()  # type: ignore[no-untyped-call]
        assert leaf.grad is not None
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-12, atol=1e-18)


def test_a_non_contiguous_mlp_activity_gives_its_goodness_and_gradient() -> None:
    z = torch.randn(16, 60, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    strided = z.t().contiguous().t()  # (16, 60), column-major: not contiguous
    assert not strided.is_contiguous()
    y = torch.arange(16) % 10
    plain = z.clone().requires_grad_()
    competitive_loss(group_goodness(torch.relu(plain), 10), y, 0.1).backward()  # type: ignore[no-untyped-call]
    leaf = strided.clone().requires_grad_()  # clone keeps the strides
    assert not leaf.is_contiguous()
    g, _ = relu_group_goodness(leaf, 10)
    torch.testing.assert_close(g, group_goodness(torch.relu(z), 10), rtol=1e-12, atol=0)
    competitive_loss(g, y, 0.1).backward()  # type: ignore[no-untyped-call]
    assert leaf.grad is not None
    assert plain.grad is not None
    torch.testing.assert_close(leaf.grad, plain.grad, rtol=1e-12, atol=1e-18)

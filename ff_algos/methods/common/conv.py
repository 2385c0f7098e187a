"""What the convolutional pair (``ff_conv``, ``bp_conv``) shares: the architecture's shapes, its
seeded layers, and its FLOP counts.

**Architecture.** ``K`` blocks, block ``k`` = ``conv k_k×k_k`` ("same" padding ``k_k // 2``,
stride 1, bias) → ReLU → max-pool ``p_k×p_k`` (``p_k = 1``: none). Block ``k`` has
``maps_k · C`` output channels for ``C`` classes: ``maps_k`` channels per class, so that the
channel-wise competitive objective of ``ff_conv`` can split them into ``C`` equal
groups (channel ``j`` belongs to class ``j // maps_k``). ``bp_conv`` uses the same blocks and a
linear head on the flattened output of the last block.

The suite hands methods flattened rows (N, C·H·W, channel first); both methods view them as
images (N, C, H, W) with :attr:`DatasetInfo.image_shape` (a view, no copy).

**FLOPs** (two per multiply-add, convolutions and matrix products only, as
``torch.utils.flop_counter.FlopCounterMode`` counts them): a convolution of ``c_in`` to ``c_out``
channels with a ``k×k`` kernel on an ``H×W`` output costs ``2·c_out·H·W·c_in·k²`` per sample
forward, and the same again for each of its gradients (weights, input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError


@dataclass(frozen=True)
class BlockShape:
    """One block's shapes: input ``c_in×h×w``, convolution output ``c_out×h×w`` ("same"
    padding), block output ``c_out×h_out×w_out`` after pooling by ``pool``."""

    c_in: int
    c_out: int
    kernel: int
    pool: int
    h: int
    w: int

    @property
    def h_out(self) -> int:
        """Height after pooling."""
        return self.h // self.pool

    @property
    def w_out(self) -> int:
        """Width after pooling."""
        return self.w // self.pool

    @property
    def out_size(self) -> int:
        """Length of one sample's block output, flattened."""
        return self.c_out * self.h_out * self.w_out

    @property
    def conv_flops(self) -> int:
        """Forward FLOPs of the convolution, per sample (each gradient costs the same)."""
        return 2 * self.c_out * self.h * self.w * self.c_in * self.kernel**2


def block_shapes(
    maps: tuple[int, ...],
    kernels: tuple[int, ...],
    pools: tuple[int, ...],
    info: DatasetInfo,
) -> list[BlockShape]:
    """The blocks' shapes on images of ``info`` (``maps``: channels per class of each block);
    raises :class:`RecipeError` (one line naming the block and the shapes) for a recipe that does
    not fit: lengths that differ, a kernel that is not odd, or a pooling larger than its input."""
    if not len(maps) == len(kernels) == len(pools) or not maps:
        raise RecipeError(
            f"maps={maps!r}, kernels={kernels!r}, pools={pools!r} must have one entry per conv "
            "layer each (and at least one layer), e.g. --set maps=4,8 --set kernels=3,3 "
            "--set pools=2,2"
        )
    c, h, w = info.image_shape
    shapes: list[BlockShape] = []
    for k, (m, kern, pool) in enumerate(zip(maps, kernels, pools, strict=True), start=1):
        if m < 1:
            raise RecipeError(f"maps={maps!r}: layer {k} needs at least 1 channel per class")
        if kern < 1 or kern % 2 == 0:
            raise RecipeError(
                f"kernels={kernels!r}: layer {k}'s kernel {kern} must be odd ('same' padding)"
            )
        if pool < 1 or pool > min(h, w):
            raise RecipeError(
                f"layer {k} (conv {kern}x{kern}, pool {pool}) gets a {c}x{h}x{w} input from "
                f"{info.name}'s {'x'.join(map(str, info.image_shape))} images: pooling by "
                f"{pool} leaves nothing; use fewer or smaller pools (--set pools=...)"
            )
        shape = BlockShape(c, m * info.num_classes, kern, pool, h, w)
        shapes.append(shape)
        c, h, w = shape.c_out, shape.h_out, shape.w_out
    return shapes


def as_images(x: Tensor, info: DatasetInfo, channels_last: bool = False) -> Tensor:
    """Flattened rows ``x`` (N, C·H·W) viewed as images (N, C, H, W); with ``channels_last``,
    in channels-last memory (a copy unless C = 1)."""
    images = x.view(x.shape[0], *info.image_shape)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def in_channels_last(convs: list[nn.Conv2d]) -> None:
    """Put every convolution's weight in channels-last memory, in place: the convolutions then
    run (and return their outputs) channels-last. Not bit-identical to the contiguous layout
    (other kernels, other summation orders)."""
    for conv in convs:
        conv.to(memory_format=torch.channels_last)


def seeded_conv(shape: BlockShape, generator: torch.Generator, device: torch.device) -> nn.Conv2d:
    """The block's ``nn.Conv2d`` ("same" padding), weight and bias uniform in ±1/sqrt(fan-in)
    (PyTorch's default bound), drawn from ``generator`` on the CPU so that a seed gives the same
    weights on every device."""
    fan_in = shape.c_in * shape.kernel**2
    bound = 1.0 / math.sqrt(fan_in)
    size = (shape.c_out, shape.c_in, shape.kernel, shape.kernel)
    weight = (torch.rand(size, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(shape.c_out, generator=generator) * 2 - 1) * bound
    conv = nn.Conv2d(
        shape.c_in, shape.c_out, shape.kernel, padding=shape.kernel // 2, device="meta"
    )
    conv.weight = nn.Parameter(weight.to(device))
    conv.bias = nn.Parameter(bias.to(device))
    return conv


def max_pool(h: Tensor, pool: int) -> Tensor:
    """``h`` (N, c, h, w) max-pooled by ``pool`` (1: ``h`` itself). On a CPU the pooling runs on
    a channels-last copy, then returns to ``h``'s layout: CPU max-pooling of a contiguous (NCHW)
    tensor is an order of magnitude slower than of channels-last, and a maximum is exact, so
    the values are the same."""
    if pool == 1:
        return h
    if h.device.type != "cpu" or h.is_contiguous(memory_format=torch.channels_last):
        return nn.functional.max_pool2d(h, pool)
    pooled = nn.functional.max_pool2d(h.contiguous(memory_format=torch.channels_last), pool)
    return pooled.contiguous()


def block(conv: nn.Conv2d, pool: int, u: Tensor) -> tuple[Tensor, Tensor]:
    """One block on input ``u`` (N, c_in, h, w): the activity ``relu(conv(u))`` (N, c_out, h, w)
    and the block output, pooled (N, c_out, h/pool, w/pool)."""
    h = torch.relu(conv(u))
    return h, max_pool(h, pool)

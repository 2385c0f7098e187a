"""What the attention pair (``ff_attn``, ``bp_attn``) shares: a small vision transformer's
shapes, its seeded modules, and its FLOP counts.

**Architecture.** An image ``c×h×w`` is cut into ``L = (h/p)·(w/p)`` patches of ``p×p`` pixels
(``P = c·p²`` values each). The patch embedding is a linear map ``P → D`` plus a learnt position
embedding (L, D). Then ``K`` pre-norm blocks on tokens ``u`` (N, L, D)::

    a = LN(u);  q, k, v = split(a W_qkv + b)              # H heads of d = D/H each
    o = softmax(q kᵀ / √d) v                              # per head, (N, H, L, d)
    x = u + o W_proj + b                                  # attention, residual
    z = x + gelu(LN(x) W_1 + b_1) W_2 + b_2               # MLP (hidden D_h), residual

``LN`` is layer norm over the ``D`` features *without* affine parameters (the linear map after
it absorbs a scale and shift), so that a block whose input is detached computes no gradient
for its first linear map's input. The width is ``D = maps·C`` for ``C`` classes: ``maps``
features per class (fewer where the recipe's ``max_width`` caps ``D``), so that
``ff_attn``'s class-group goodness can split a token's features into ``C`` equal
groups (feature ``j`` belongs to class ``j // maps``).

Attention is written as two explicit batched matrix products, not
``F.scaled_dot_product_attention``: on the CPU the fused kernel that op dispatches to is not
seen by ``torch.utils.flop_counter.FlopCounterMode`` (it counts 0), and the executed FLOPs must
be counted the same on every device.

**FLOPs** (two per multiply-add; matrix products only, as ``FlopCounterMode`` counts them), per
sample: the embedding ``E = 2·L·P·D``; per block forward ``F_b = 2·L·D·3D`` (q, k, v)
``+ 4·L²·D`` (scores and their weighted sum, over all heads) ``+ 2·L·D²`` (projection)
``+ 4·L·D·D_h`` (MLP). Each gradient of a product (weights, or its input) costs what its
forward costs; the attention products have two gradients each (``8·L²·D``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError
from ff_algos.methods.common.layers import seeded_linear


@dataclass(frozen=True)
class AttnShape:
    """The transformer's shapes on one dataset: ``channels×height×width`` images cut into
    ``patch×patch`` patches, ``dim``-wide tokens, ``heads`` heads, MLP hidden ``hidden``."""

    channels: int
    height: int
    width: int
    patch: int
    dim: int
    heads: int
    hidden: int
    blocks: int

    @property
    def tokens(self) -> int:
        """Patches per image, ``L``."""
        return (self.height // self.patch) * (self.width // self.patch)

    @property
    def patch_size(self) -> int:
        """Values per patch, ``P = c·p²``."""
        return self.channels * self.patch**2

    @property
    def embed_flops(self) -> int:
        """Forward FLOPs of the patch embedding, per sample."""
        return 2 * self.tokens * self.patch_size * self.dim

    @property
    def qkv_flops(self) -> int:
        """Forward FLOPs of a block's q, k, v map, per sample."""
        return 2 * self.tokens * self.dim * 3 * self.dim

    @property
    def attention_flops(self) -> int:
        """Forward FLOPs of a block's two attention products (all heads), per sample."""
        return 4 * self.tokens**2 * self.dim

    @property
    def proj_flops(self) -> int:
        """Forward FLOPs of a block's output projection, per sample."""
        return 2 * self.tokens * self.dim**2

    @property
    def mlp_flops(self) -> int:
        """Forward FLOPs of a block's MLP (both maps), per sample."""
        return 4 * self.tokens * self.dim * self.hidden

    @property
    def block_flops(self) -> int:
        """Forward FLOPs of one block, per sample."""
        return self.qkv_flops + self.attention_flops + self.proj_flops + self.mlp_flops

    def block_backward_flops(self, input_grad: bool) -> int:
        """Backward FLOPs of one block, per sample: every weight gradient, every input gradient
        inside the block, and the q, k, v map's input gradient only if ``input_grad`` (the
        block's input needs one)."""
        weights = self.qkv_flops + self.proj_flops + self.mlp_flops
        inside = 2 * self.attention_flops + self.proj_flops + self.mlp_flops
        return weights + inside + (self.qkv_flops if input_grad else 0)


def attn_shape(
    patch: int,
    maps: int,
    heads: int,
    mlp_ratio: int,
    blocks: int,
    info: DatasetInfo,
    max_width: int = 0,
) -> AttnShape:
    """The transformer's shapes on ``info``'s images: width ``D = m·C`` with ``m = maps``
    features per class, or fewer where ``max_width > 0`` caps ``D`` (``m = max(1, min(maps,
    max_width // C))``: many classes, CIFAR100's 100, would otherwise make the model 10x wider).
    Raises :class:`RecipeError` (one line naming the shapes) for a recipe that does not fit."""
    c, h, w = info.image_shape
    if patch < 1 or h % patch or w % patch:
        raise RecipeError(
            f"patch={patch} does not divide {info.name}'s {c}x{h}x{w} images; use a patch size "
            f"that divides {h} and {w} (e.g. --set patch=4)"
        )
    if blocks < 1:
        raise RecipeError(f"blocks={blocks} builds no transformer block; use blocks=1 or more")
    if maps < 1 or mlp_ratio < 1:
        raise RecipeError(f"maps={maps} and mlp_ratio={mlp_ratio} must be at least 1")
    per_class = maps if max_width <= 0 else max(1, min(maps, max_width // info.num_classes))
    dim = per_class * info.num_classes
    if heads < 1 or dim % heads:
        raise RecipeError(
            f"heads={heads} does not divide the width {dim} ({per_class} features per class x "
            f"{info.num_classes} classes of {info.name}); choose heads dividing {dim}"
        )
    return AttnShape(c, h, w, patch, dim, heads, mlp_ratio * dim, blocks)


def patches(x: Tensor, shape: AttnShape) -> Tensor:
    """Flattened rows ``x`` (N, c·h·w, channel first) as patch rows (N, L, c·p·p)."""
    p = shape.patch
    n = x.shape[0]
    img = x.view(n, shape.channels, shape.height // p, p, shape.width // p, p)
    return img.permute(0, 2, 4, 1, 3, 5).reshape(n, shape.tokens, shape.patch_size)


class PatchEmbed(nn.Module):
    """Patches to tokens: a linear map ``P → D`` and a learnt position embedding."""

    def __init__(self, shape: AttnShape, gen: torch.Generator, device: torch.device) -> None:
        super().__init__()
        self.shape = shape
        self.proj = seeded_linear(shape.patch_size, shape.dim, gen, device)
        pos = torch.randn(shape.tokens, shape.dim, generator=gen) * 0.02
        self.pos = nn.Parameter(pos.to(device))

    def forward(self, x: Tensor) -> Tensor:
        """Tokens (N, L, D) of rows ``x`` (N, c·h·w)."""
        out: Tensor = self.proj(patches(x, self.shape)) + self.pos
        return out


class Block(nn.Module):
    """One pre-norm transformer block (module docstring)."""

    def __init__(self, shape: AttnShape, gen: torch.Generator, device: torch.device) -> None:
        super().__init__()
        d = shape.dim
        self.heads = shape.heads
        self.qkv = seeded_linear(d, 3 * d, gen, device)
        self.proj = seeded_linear(d, d, gen, device)
        self.fc1 = seeded_linear(d, shape.hidden, gen, device)
        self.fc2 = seeded_linear(shape.hidden, d, gen, device)

    def attention(self, a: Tensor) -> Tensor:
        """Multi-head self-attention of normalised tokens ``a`` (N, L, D), before projection."""
        n, length, d = a.shape
        h = self.heads
        qkv = self.qkv(a).view(n, length, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (N, H, L, d/H) each
        scores = (q * (d // h) ** -0.5) @ k.transpose(-2, -1)  # (N, H, L, L)
        o: Tensor = scores.softmax(-1) @ v  # (N, H, L, d/H)
        return o.transpose(1, 2).reshape(n, length, d)

    def forward(self, u: Tensor) -> Tensor:
        """The block's output tokens (N, L, D) for input tokens ``u`` (N, L, D)."""
        d = u.shape[-1]
        x = u + self.proj(self.attention(F.layer_norm(u, (d,))))
        out: Tensor = x + self.fc2(F.gelu(self.fc1(F.layer_norm(x, (d,)))))
        return out


def seeded_modules(
    shape: AttnShape, gen: torch.Generator, device: torch.device
) -> tuple[PatchEmbed, list[Block]]:
    """The embedding and the ``K`` blocks, drawn in that order from ``gen`` (CPU)."""
    embed = PatchEmbed(shape, gen, device)
    return embed, [Block(shape, gen, device) for _ in range(shape.blocks)]

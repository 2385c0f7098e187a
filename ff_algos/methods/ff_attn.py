"""Forward-Forward with attention (``ff_attn``): the small vision transformer of
:mod:`ff_algos.methods.common.attn`, every block trained by its own class-group goodness
objective on its
detached input; no gradient crosses a block, no negative data, no label overlay.

**Choice of objective.** Three ways for the label to reach a layer-local FF block were weighed.
*Overlaying the label on the image* (Hinton's FF, this suite's ``ff``) needs a forward pass per
candidate class to predict (``C`` passes of the whole transformer), and negatives made of wrong
labels; in a patch model the label lands in one patch only, and attention must first carry it to
the others. *A label token* has the same cost at prediction. *A channel/group-wise competitive
goodness* (Papachristodoulou et al., "Convolutional Channel-wise Competitive Learning for the
Forward-Forward Algorithm", AAAI 2024; this suite's ``ff_conv``) needs one pass of the image
only: each block's output features are split into one group per class, and the groups compete.
It is the one chosen here, with the goodness read from the token stream a block hands on (so
that every weight of the block, attention included, is trained by it).

**Goodness per class.** Block ``k``'s output tokens ``z`` (m, L, D), ``D = maps·C``, are split
by feature into ``C`` groups of ``maps``; the goodness of class ``c`` is the group's mean square
over tokens and features, ``g_c = mean_{t, j ∈ group c} z_{t,j}²`` (FF's sum of squared
activity, per class). The loss is the cross-entropy of ``g / T`` (``T = temperature``) against
the true label, ``L_k = -log softmax(g/T)_y``: raising the true class's goodness is FF's
positive phase, lowering the other classes' (weighted by their softmax share) its negative
phase, both from one forward pass of the real image.

**Locality.** Block 1 is the patch embedding and the first transformer block. Block ``k+1``'s
input is block ``k``'s output tokens, each token normalised to unit mean square
(``u_{k+1} = z / sqrt(mean_j z_j² + ε)``: the next block reads the pattern, not the size that
block ``k``'s goodness pushed up) and *detached*. Blocks train greedily: block 1 for ``epochs``
epochs, then its output over the training rows is computed once (no gradient) and kept as block
2's input, and so on. A block's loss depends on its own parameters only; since its input is
detached and its layer norms have no parameters, its first linear map (q, k, v) computes a
weight gradient only. Per row and epoch a block ``k ≥ 2`` costs its forward ``F_b`` and a
backward of every weight gradient (``F_b`` less the attention products, which have no weights)
and every input gradient inside the block (``F_b`` less the q, k, v map, plus the attention
products once more: each has two inputs needing a gradient); see
:meth:`AttnShape.block_backward_flops`. Block 1 adds the embedding's forward and weight gradient
and the q, k, v input gradient that reaches the embedding. The executed FLOPs add one forward of
each block over the training rows, to hand its output on.

**Predictors.** ``goodness`` (the model's :meth:`AttnFFNet.predict`): one pass through the
blocks; the class whose summed log-softmax of ``g / T`` over blocks ``goodness_from..K`` is
highest. ``head``: a linear softmax classifier on the last block's normalised output tokens,
flattened (``L·D`` features; the token mean loses where things are and scored far lower),
trained by cross entropy for ``head_epochs`` after the blocks (backprop inside that single
linear map; phase ``head``), scored beside it (``accuracy.predictors.head``).

**Training.** Adam per block (fresh state), mini-batches of ``batch_size`` rows in a seeded order
per epoch, learning rate constant or ``cooldown`` (the schedule of ``ff_strong``).
Observer phases ``layer1``..``layerK`` then ``head``; after every epoch the network trained so
far (blocks ``1..k``) is offered to model observers (learning curves).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError
from ff_algos.method import Fitted, FlopCount, NullObserver, RecipeMethod, TrainObserver
from ff_algos.methods.common.attn import AttnShape, Block, PatchEmbed, attn_shape, seeded_modules
from ff_algos.methods.common.checks import check_run_fields, check_schedule
from ff_algos.methods.common.heads import Predictor
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import SCHEDULES, Schedule, head_phase, recipe_phase, train_phase
from ff_algos.methods.common.precision import (
    Precision,
    eager_options,
    precision_scope,
    product_dtype,
)

EPS = 1e-12  # added to each token's mean square before the square root
COMPILES = ("none",)  # eager only


@dataclass(frozen=True)
class AttnFFRecipe:
    """Class-group goodness FF on transformer blocks (see the module docstring)."""

    name: str = "seed"
    patch: int = 4  # patch side in pixels (7x7 = 49 tokens on 28x28, 8x8 = 64 on 32x32)
    maps: int = 8  # features per class: width D = maps x classes
    max_width: int = 240  # caps D (fewer features per class, at least 1); 0: no cap
    heads: int = 4
    mlp_ratio: int = 2  # MLP hidden = mlp_ratio x D
    blocks: int = 3
    epochs: int = 6  # per block
    batch_size: int | None = 100  # None: the whole training split as one batch
    lr: float = 3e-3  # Adam, every block (1e-3 learnt slower: quick MNIST .60 vs .77)
    schedule: Schedule = "cooldown"
    temperature: float = 0.1  # logits = group goodness / temperature
    goodness_from: int = 1  # first block (1-based) whose goodness predict() sums
    head_epochs: int = 2  # linear head on the last block's pooled output (0: no head)
    head_lr: float = 3e-3
    head_batch_size: int | None = 100
    train_size: int | None = None
    seed: int = 0
    nan_check_every: int = 5  # epochs between non-finite-loss checks (one host sync each)
    predict_batch_size: int = 1000  # rows per prediction or hand-on chunk
    precision: Precision = "fp32"  # fp32 | tf32 | bf16 autocast, fp32 master weights
    compile: str = "none"  # none only (eager)

    method: typing.ClassVar[str] = "ff_attn"

    def shape(self, info: DatasetInfo) -> AttnShape:
        """The transformer's shapes on ``info`` (a one-line error if they do not fit)."""
        return attn_shape(
            self.patch, self.maps, self.heads, self.mlp_ratio, self.blocks, info, self.max_width
        )

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs of the plain algorithm (module docstring): per block, epoch and row a
        forward and a local backward; the head's forward and weight gradient per head epoch and
        row. Prediction by goodness is one forward pass through the blocks."""
        s = self.shape(info)
        head = 2 * s.tokens * s.dim * info.num_classes
        first = s.embed_flops + s.block_flops
        forward = n_train * (self.epochs * (first + (s.blocks - 1) * s.block_flops))
        backward = n_train * self.epochs * (s.embed_flops + s.block_backward_flops(True))
        backward += n_train * self.epochs * (s.blocks - 1) * s.block_backward_flops(False)
        forward += n_train * self.head_epochs * head
        backward += n_train * self.head_epochs * head
        predict = s.embed_flops + s.blocks * s.block_flops
        return FlopCount(forward=forward, backward=backward, predict=predict, predict_samples=1)

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """Training FLOPs executed per phase: the plain algorithm's, plus one forward pass of
        each block over the training rows to hand its output on (the last block's only when
        there is a head)."""
        s = self.shape(info)
        out: dict[str, int] = {}
        for k in range(1, s.blocks + 1):
            fwd = s.block_flops + (s.embed_flops if k == 1 else 0)
            bwd = s.block_backward_flops(k == 1) + (s.embed_flops if k == 1 else 0)
            hand_on = k < s.blocks or self.head_epochs > 0
            out[f"layer{k}"] = n_train * (self.epochs * (fwd + bwd) + int(hand_on) * fwd)
        if self.head_epochs > 0:
            out["head"] = self.head_epochs * n_train * 4 * s.tokens * s.dim * info.num_classes
        return out


# SEED: the published-run recipe (3 blocks of width 80 on 10 classes, 6 epochs per block);
# bp_attn's SEED has the same blocks and epochs.
SEED = AttnFFRecipe(name="seed")
QUICK = AttnFFRecipe(
    name="quick",
    maps=6,
    max_width=120,  # CIFAR100: 1 feature per class (width 100), not 6 (600: 100x the FLOPs)
    heads=4,
    blocks=2,
    epochs=2,
    head_epochs=1,
    train_size=10000,
)
TINY = AttnFFRecipe(
    name="tiny",
    patch=4,  # divides 28 and 32: every dataset
    maps=2,
    max_width=100,
    heads=2,
    mlp_ratio=1,
    blocks=2,
    epochs=1,
    batch_size=32,
    head_epochs=1,
    head_batch_size=32,
    train_size=1024,
)
RECIPES: dict[str, AttnFFRecipe] = {r.name: r for r in (SEED, QUICK, TINY)}


def validate_attn_ff(recipe: AttnFFRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe that cannot train on ``info``."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    shape = recipe.shape(info)
    if recipe.head_epochs > 0:
        check_schedule("head_", recipe.head_epochs, recipe.head_lr, recipe.head_batch_size)
    if not recipe.temperature > 0:
        raise RecipeError(f"temperature={recipe.temperature!r} must be positive, e.g. 0.1")
    if not 1 <= recipe.goodness_from <= shape.blocks:
        raise RecipeError(
            f"goodness_from={recipe.goodness_from} must name a block 1..{shape.blocks}; "
            f"e.g. --set goodness_from={shape.blocks}"
        )
    check_run_fields(recipe, "ff_attn (eager only)", COMPILES, {"schedule": SCHEDULES})


def normalise(z: Tensor) -> Tensor:
    """Each token of ``z`` (N, L, D) divided by ``sqrt(mean(z²) + EPS)`` over its features."""
    return F.rms_norm(z, (z.shape[-1],), eps=EPS)


def token_group_goodness(z: Tensor, num_classes: int) -> Tensor:
    """Goodness per class (m, C): the mean square of each class's feature group of the tokens
    ``z`` (m, L, C·maps), over tokens and the group's features."""
    m, length, d = z.shape
    return z.square().view(m, length, num_classes, d // num_classes).mean((1, 3))


def stage(embed: PatchEmbed, block: Block, first: bool, u: Tensor) -> Tensor:
    """Block ``k``'s output tokens (m, L, D) from its input: rows (m, c·h·w) for block 1 (which
    embeds them first), normalised tokens (m, L, D) after."""
    out: Tensor = block(embed(u) if first else u)
    return out


class AttnFFNet(nn.Module):
    """The trained embedding, blocks and linear head; :meth:`predict` by goodness."""

    def __init__(
        self,
        embed: PatchEmbed,
        blocks: list[Block],
        head: nn.Linear | None,
        recipe: AttnFFRecipe,
        info: DatasetInfo,
    ) -> None:
        super().__init__()
        self.embed = embed
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.temperature = recipe.temperature
        self.goodness_from = min(recipe.goodness_from, len(blocks))
        self.info = info
        self.predict_batch_size = recipe.predict_batch_size

    @torch.no_grad()
    def scores(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """For rows ``x`` (N, D_in): the summed log-softmax of ``g/T`` over blocks
        ``goodness_from..K`` (N, C), and the last block's normalised output tokens, flattened
        (N, L·D)."""
        c = self.info.num_classes
        size = self.predict_batch_size
        parts: list[Tensor] = []
        feats: list[Tensor] = []
        for s in range(0, x.shape[0], size):
            u = self.embed(x[s : s + size])
            score = torch.zeros(u.shape[0], c, device=x.device)
            for k, block in enumerate(self.blocks, start=1):
                z = block(u)
                if k >= self.goodness_from:
                    score += F.log_softmax(token_group_goodness(z, c).float() / self.temperature, 1)
                u = normalise(z)
            parts.append(score)
            feats.append(u.flatten(1))
        if not parts:
            return x.new_empty(0, c), x.new_empty(0, 0)
        return torch.cat(parts), torch.cat(feats)

    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64 by goodness."""
        return self.scores(x)[0].argmax(1)

    @torch.no_grad()
    def predict_head(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64 by the linear head."""
        assert self.head is not None, "this network has no head (head_epochs=0)"
        logits: Tensor = self.head(self.scores(x)[1])
        return logits.argmax(1)


def block_loss(z: Tensor, y: Tensor, num_classes: int, temperature: float) -> Tensor:
    """A block's class-group competitive loss on its output tokens ``z`` (m, L, D) with labels
    ``y`` (m,): cross-entropy of the group goodness over ``temperature``."""
    return F.cross_entropy(token_group_goodness(z, num_classes).float() / temperature, y)


def train_attn_ff(
    recipe: AttnFFRecipe,
    x: Tensor,
    y: Tensor,
    info: DatasetInfo,
    observer: TrainObserver | None = None,
) -> Fitted[AttnFFNet]:
    """Train on rows ``x`` (N, c·h·w) and labels ``y`` (N,) on their device. Random streams:
    weights from ``seed`` (CPU generator: embedding, blocks, then head), row orders from
    ``seed + 1``."""
    validate_attn_ff(recipe, info)
    obs: TrainObserver = observer if observer is not None else NullObserver()
    device = x.device
    if x.shape[0] < 1:
        raise RecipeError("cannot train on an empty split")
    shape = recipe.shape(info)
    gen = torch.Generator().manual_seed(recipe.seed)
    embed, blocks = seeded_modules(shape, gen, device)
    head: nn.Linear | None = None
    if recipe.head_epochs > 0:
        head = seeded_linear(shape.tokens * shape.dim, info.num_classes, gen, device)
        with torch.no_grad():
            head.weight.zero_()
            head.bias.zero_()
    net = AttnFFNet(embed, blocks, head, recipe, info)
    low = product_dtype(recipe.precision)
    c = info.num_classes
    chunk = recipe.predict_batch_size
    shuffle = torch.Generator(device=device).manual_seed(recipe.seed + 1)
    losses: dict[str, list[float]] = {}
    u = x  # block 1's input: the rows
    with precision_scope(recipe.precision, device):
        for k, block in enumerate(blocks, start=1):
            first = k == 1

            def loss_of(
                ub: Tensor, yb: Tensor, block: Block = block, first: bool = first
            ) -> Tensor:
                with torch.autocast(device.type, dtype=low, enabled=low is not None):
                    return block_loss(stage(embed, block, first, ub), yb, c, recipe.temperature)

            def hand_on(u: Tensor = u, block: Block = block, first: bool = first) -> Tensor:
                with (
                    torch.no_grad(),
                    torch.autocast(device.type, dtype=low, enabled=low is not None),
                ):
                    parts = [
                        normalise(stage(embed, block, first, u[s : s + chunk])).float()
                        for s in range(0, u.shape[0], chunk)
                    ]
                return torch.cat(parts)

            params = [*embed.parameters(), *block.parameters()] if first else [*block.parameters()]
            last = k == shape.blocks and head is None
            so_far = AttnFFNet(embed, blocks[:k], None, recipe, info)
            losses[f"layer{k}"], out = train_phase(
                recipe_phase(
                    f"layer{k}",
                    params,
                    loss_of,
                    recipe,
                    None if last else hand_on,
                    lambda so_far=so_far: so_far,  # type: ignore[misc]
                ),
                u,
                y,
                obs,
                shuffle,
            )
            if out is not None:
                u = out
        if head is not None:
            feats = u.flatten(1)  # (N, L·D): the last block's normalised output tokens
            losses["head"], _ = train_phase(
                head_phase(head, recipe, lambda: net),
                feats,
                y,
                obs,
                shuffle,
            )
    options: dict[str, object] = {
        **eager_options(recipe.precision, recipe.compile),
        "schedule": recipe.schedule,
        "tokens": shape.tokens,
        "width": shape.dim,
        "heads": shape.heads,
        "blocks": shape.blocks,
        "attention": "explicit-matmul",
        "predictors": ["goodness", "head"] if head is not None else ["goodness"],
        "goodness_layers": list(range(recipe.goodness_from, shape.blocks + 1)),
        "greedy": True,
        "negative_data": False,
    }
    heads = {"head": Predictor(net.predict_head)} if head is not None else {}
    return Fitted(model=net, losses=losses, options=options, predictors=heads)


METHOD = RecipeMethod(
    name="ff_attn",
    description=(
        "FF on vision-transformer blocks: class-group competitive goodness per block, greedy "
        "and local, no negative data; goodness predictor, plus a linear head scored beside it"
    ),
    recipes=RECIPES,
    check=validate_attn_ff,
    train=lambda recipe, data, observer: train_attn_ff(
        recipe, data.train.x, data.train.y, data.info, observer
    ),
)

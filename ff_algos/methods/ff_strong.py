"""A strong Forward-Forward method (``ff_strong``): every layer trained at once, each by its own
local loss, no gradient ever crossing a layer; two predictors (goodness and a linear head).

The greedy recipe of ``ff`` (two layers of 500, full batch, one layer after the other)
reaches about 93 % on MNIST. This module follows the recipe that makes FF competitive
(loeweX/Forward-Forward, after Hinton 2022), written afresh, with three changes: the label is
appended rather than overlaid, the logit has a width-free temperature, and negatives are *hard*
(drawn from the head's confusions, as Hinton suggests drawing them from the model's own).

**Data.** ``x̂ = x / sqrt(mean(x²) + ε)`` per row, computed once (every input then has length
sqrt(D)). The label enters as ``C`` extra input entries appended to the image: ``[x̂,
v·onehot(label)]`` (``v = label_value``). Positive rows carry the true label, negative rows the
same images with a *wrong* label, neutral rows (for the head) ``v/C`` on every label entry.
Appending keeps every pixel, and because the three variants share the image, layer 1 computes
``A = W_img x̂ + b`` once per row and adds a label column ``v·W_lab[:, c]`` (a gather, not a
product) for each variant: layer 1 costs one product instead of three.

**Layers.** ``h_k = relu(W_k u_k + b_k)`` on the detached input ``u_k``: ``u_1 = [x̂, label]``,
``u_{k+1} = h_k / sqrt(mean(h_k²) + ε)`` (length normalisation: the next layer sees only the
direction of the activity vector, so it cannot read the previous layer's goodness off its length).
The ReLU passes gradients through unchanged (``relu`` forward, identity backward): the goodness
gradient is unaffected (it is ``2h``, zero where a unit is off) but the peer-normalisation term
reaches dead units and can revive them.

**Loss of layer k** (local, on its own detached input): goodness ``g = Σ_j h_j²`` over the layer's
``H`` units, logit ``l = (g/H - θ) / T`` (``θ = threshold``, ``T = temperature``), binary
cross-entropy of positives (target 1) against negatives (target 0), ``mean(softplus(-l_pos)) / 2
+ mean(softplus(l_neg)) / 2``. loeweX's ``Σh² - H`` is θ = 1, T = 1/H: a sharpness that grows with
the width. With it (T = 1/H) layers 2-3 of 3x500 did not learn (BCE ~2, goodness accuracy below
chance); T = 0.05-0.1, the same for every width, trains every layer. **Peer normalisation** keeps
every unit in use: a running mean ``r ← μ·r + (1-μ)·mean_batch(h_pos)`` per unit (μ =
``peer_momentum``; the stored value is detached, the current batch's share carries the gradient)
and the term ``peer_norm · var_j(r_j)`` pulls each unit's mean activity towards the layer's
(switching it off cost 1-3 points at small scale).

**Head.** A linear map (zero initialised) from the concatenated normalised *neutral* activities of
layers ``head_from..K`` to the ``C`` classes, cross-entropy, trained alongside on detached
features: backprop happens only inside this single linear map.

**Negatives.** ``random``: a wrong label drawn uniformly. ``hard``: a wrong label drawn from the
head's current softmax over the wrong classes (the cheap head in place of C goodness passes):
negatives the network confuses with the truth (+0.5-0.8 points at small scale). Both use the
Gumbel-max trick ``argmax(s + G)``, ``G = -log E``, ``E ~ Exp(1)``, true class masked, with
``s = 0`` (random) or ``s`` = the head's detached logits (hard). ``G`` is an (N, C) device buffer
refilled in place once per epoch; a batch reads the rows of its *positions* in the epoch, so a
captured CUDA graph replays with fresh noise and no host involvement.

**Training.** The objective of one step is the sum of every layer's BCE and peer term and the
head's cross-entropy; since each layer's input is detached, one ``backward`` gives each layer
exactly its own local gradient (tested) and one fused AdamW step updates everything. Mini-batches
of ``batch_size`` rows are sliced by a device-side permutation per epoch; ``schedule="cooldown"``
keeps the learning rate for the first half and decays it linearly to ``2/epochs`` of it in the
second half (loeweX's schedule); ``constant`` keeps it. Adam's step moves a pre-activation by about
``lr × fan-in``, so wide layers need a smaller ``lr``: 3e-3 trains 3x1000 well but killed every
unit of layers 2-3 of 3x2000 (an absorbing state: dead units have no goodness gradient), 1e-3
trains 2000-wide layers. Per-epoch mean losses (``"layer1"``..., ``"head"``: each layer's BCE
without the peer term, and the head's CE) stay on the device until the end.

**Prediction.** :meth:`StrongFFNet.predict`: for every candidate label, run the layers and sum the
goodness of layers ``goodness_from..K``; argmax. Layer 1 is left out by default, as Hinton does:
its goodness is a rectified *linear* function of image and label, the least selective vote (in
every trial here summing layers 1..K and 2..K agreed within 0.3 points; the last layer alone was
worse). :meth:`StrongFFNet.predict_head`: one neutral pass and the linear head, ``C`` times cheaper
than the goodness predictor. Both are no-grad and chunked by ``predict_batch_size``.

The measured runs of these recipes are in ``reports/`` (``nvidia-h100-ff-strong-probe``,
``cpu-2core-strong-group/trials``) and the README.
"""

from __future__ import annotations

import itertools
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError
from ff_algos.method import (
    Fitted,
    FlopCount,
    NullObserver,
    RecipeMethod,
    TrainObserver,
)
from ff_algos.methods.common.checks import check_run_fields, check_schedule
from ff_algos.methods.common.compiled import Compile, EpochRunner
from ff_algos.methods.common.goodness import rms_normalise
from ff_algos.methods.common.heads import Predictor
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import SCHEDULES, Epochs, Schedule, run_epochs
from ff_algos.methods.common.precision import Precision, precision_scope, product_dtype
from ff_algos.methods.common.shift import translate

EPS = 1e-12  # added to the mean square before the square root

Negatives = Literal["random", "hard"]
NEGATIVES: tuple[Negatives, ...] = ("random", "hard")


@dataclass(frozen=True)
class StrongFFRecipe:
    """Forward-Forward with simultaneous local losses, peer normalisation, hard negatives and a
    linear head (see the module docstring). ``executed_flops`` counts the training epochs only
    (the warm-up of ``compile=inductor|cudagraphs`` is compile time)."""

    name: str = "strong"
    hidden: tuple[int, ...] = (2000, 2000, 2000, 2000)
    epochs: int = 60
    batch_size: int | None = 100  # None: the whole training split as one batch
    lr: float = 1e-3  # AdamW, feature layers
    weight_decay: float = 0.0  # AdamW's decoupled decay, feature layers
    schedule: Schedule = "cooldown"  # constant | cooldown (linear decay over the second half)
    threshold: float = 1.0  # θ: logit = (mean_j h_j² - θ) / temperature
    temperature: float = 0.05  # loeweX's Σh² - width is temperature = 1/width
    peer_norm: float = 0.03  # weight of the peer-normalisation term (0: off)
    peer_momentum: float = 0.9  # running mean of each unit's positive activity
    label_value: float = 3.0  # value of the label entry appended to the normalised image
    shift: int = 0  # each epoch, every image moved by up to ±shift pixels (0: off)
    negatives: Negatives = "hard"  # random | hard (drawn from the head's softmax)
    goodness_from: int = 2  # first layer (1-based) whose goodness predict() sums
    head_from: int = 2  # first layer (1-based) whose activities feed the linear head
    head_lr: float = 1e-3  # AdamW, linear head
    head_weight_decay: float = 0.0
    train_size: int | None = None  # None: the whole training split
    seed: int = 0
    nan_check_every: int = 10  # epochs between non-finite-loss checks (one host sync each)
    predict_batch_size: int = 10000  # rows per prediction chunk
    precision: Precision = "fp32"  # fp32 | tf32 (CUDA) | bf16 autocast, fp32 master weights
    compile: Compile = "none"  # none | inductor (torch.compile) | cudagraphs (CUDA)

    method: typing.ClassVar[str] = "ff_strong"

    def _dims(self, input_size: int, num_classes: int) -> tuple[list[tuple[int, int]], int]:
        """Every layer's (in, out), layer 1 including the label entries; the head's width."""
        layers = list(itertools.pairwise((input_size + num_classes, *self.hidden)))
        features = sum(self.hidden[self.head_from - 1 :])
        return layers, features

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs of the plain algorithm, per sample and epoch: positive and negative rows
        through every layer (``2·2·P``, ``P = Σ in·out`` with layer 1's input ``D + C``), the
        neutral row through every layer (``2·P``) and the head (``2·F·C``, ``F`` its input
        width); backward: weight gradients only (inputs are detached), ``2·2·P + 2·F·C``.
        Prediction (:meth:`StrongFFNet.predict`) runs every layer once per candidate label:
        ``C·2·P`` per sample (the head predictor costs ``2·P + 2·F·C``)."""
        num_classes = info.num_classes
        layers, features = self._dims(info.input_size, num_classes)
        p = sum(i * o for i, o in layers)
        head = 2 * features * num_classes
        rows = self.epochs * n_train
        return FlopCount(
            forward=rows * (4 * p + 2 * p + head),
            backward=rows * (4 * p + head),
            predict=num_classes * 2 * p,
            predict_samples=1,
        )

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """Training FLOPs executed (matrix products only): layer 1's image product once per row
        for all three label variants (forward and weight gradient: ``2·2·D·H₁``; the label
        columns are gathered, not multiplied), deeper layers as the plain algorithm (``2·2·in·out``
        forward and ``2·2·in·out`` weight gradient for positives and negatives, ``2·in·out`` for
        the neutral row), the head as the plain algorithm (``2·2·F·C``); one phase, ``train``."""
        layers, features = self._dims(info.input_size, info.num_classes)
        (_, h1), *rest = layers
        per_row = 4 * info.input_size * h1 + sum(10 * i * o for i, o in rest)
        per_row += 4 * features * info.num_classes
        return {"train": self.epochs * n_train * per_row}


# STRONG: the defaults. Hinton's 4x2000 at loeweX's batch of 100 and 60 epochs; lr 1e-3 is the
# largest tried that keeps 2000-wide layers alive; label_value 3 and temperature 0.05 were the best
# of the small-scale trials (module docstring). About 45 s per run on one H100 with tf32 and CUDA
# graphs, 3.5 s per epoch eager fp32 (about 3.5 minutes).
STRONG = StrongFFRecipe(name="strong")
# QUICK: for CI on 2 CPU cores, 10000 rows in about 25 s; 1000-wide layers take lr 3e-3.
QUICK = StrongFFRecipe(
    name="quick",
    hidden=(1000, 1000, 1000),
    epochs=6,
    batch_size=100,
    lr=3e-3,
    train_size=10000,
    nan_check_every=3,
)
# TINY: for the tests (seconds); with two layers only, every layer's goodness votes.
TINY = StrongFFRecipe(
    name="tiny",
    hidden=(32, 32),
    epochs=6,
    batch_size=32,
    lr=3e-3,
    head_lr=3e-3,
    goodness_from=1,
    train_size=512,
    nan_check_every=2,
)
RECIPES: dict[str, StrongFFRecipe] = {"strong": STRONG, "quick": QUICK, "tiny": TINY}


def validate_strong(recipe: StrongFFRecipe, input_size: int, num_classes: int) -> None:
    """Raise :class:`RecipeError` (one line: what is wrong and how to fix it) for a recipe that
    cannot train on inputs of ``input_size`` entries and ``num_classes`` classes."""

    def positive(field: str) -> None:
        value = getattr(recipe, field)
        if not (math.isfinite(value) and value > 0):
            raise RecipeError(f"{field}={value!r} must be a positive number, e.g. --set {field}=1")

    def non_negative(field: str) -> None:
        value = getattr(recipe, field)
        if not (math.isfinite(value) and value >= 0):
            raise RecipeError(f"{field}={value!r} must be >= 0; use --set {field}=0 to turn it off")

    layers = len(recipe.hidden)
    if layers == 0 or min(recipe.hidden) < 1:
        raise RecipeError(
            f"hidden={recipe.hidden!r}: ff_strong needs at least one layer of positive width, "
            "e.g. --set hidden=2000,2000,2000"
        )
    if input_size < 1:
        raise RecipeError(f"input_size={input_size} must be positive")
    if num_classes < 2:
        raise RecipeError(
            f"num_classes={num_classes}: negatives need a wrong label, so at least 2 classes"
        )
    if recipe.epochs < 1:
        raise RecipeError(f"epochs={recipe.epochs} must be at least 1, e.g. --set epochs=60")
    if recipe.batch_size is not None and recipe.batch_size < 1:
        raise RecipeError(
            f"batch_size={recipe.batch_size} must be a positive integer or none (full batch)"
        )
    if recipe.train_size is not None and recipe.train_size < 1:
        raise RecipeError(f"train_size={recipe.train_size} must be positive or none (all rows)")
    for field in ("lr", "head_lr", "threshold", "temperature", "label_value"):
        positive(field)
    for field in ("weight_decay", "head_weight_decay", "peer_norm"):
        non_negative(field)
    if not 0 <= recipe.peer_momentum < 1:
        raise RecipeError(f"peer_momentum={recipe.peer_momentum!r} must be in [0, 1), e.g. 0.9")
    for field in ("goodness_from", "head_from"):
        value = getattr(recipe, field)
        if not 1 <= value <= layers:
            raise RecipeError(
                f"{field}={value} must name a layer 1..{layers} of hidden={recipe.hidden!r}; "
                f"e.g. --set {field}={min(2, layers)}"
            )
    if recipe.shift < 0:
        raise RecipeError(f"shift={recipe.shift} must be >= 0 pixels; use --set shift=0 for none")
    check_run_fields(recipe, "ff_strong", choices={"negatives": NEGATIVES, "schedule": SCHEDULES})


class _ReluPassThrough(torch.autograd.Function):
    """``relu`` forward, identity backward (loeweX's "full-gradient ReLU")."""

    @staticmethod
    def forward(ctx: typing.Any, z: Tensor) -> Tensor:
        return torch.relu(z)

    @staticmethod
    def backward(ctx: typing.Any, grad: Tensor) -> Tensor:
        return grad


def relu_pass_through(z: Tensor) -> Tensor:
    """``relu(z)`` whose gradient is passed through unchanged (also where ``z < 0``)."""
    out: Tensor = _ReluPassThrough.apply(z)
    return out


def peer_loss(h_pos: Tensor, running: Tensor, momentum: float) -> Tensor:
    """Peer normalisation of a layer with positive activities ``h_pos`` (m, H): updates the
    running mean activity ``running`` (H,) in place and returns ``mean_j (mean(r) - r_j)²`` of
    the new running mean ``r`` (the current batch's share carries the gradient)."""
    r = torch.lerp(running, h_pos.mean(0), 1.0 - momentum)  # (H,)
    with torch.no_grad():
        running.copy_(r)
    return r.var(unbiased=False)


class StrongFFNet(nn.Module):
    """The trained layers and linear head; :meth:`predict` by goodness, :meth:`predict_head` by
    the head (see the module docstring)."""

    def __init__(
        self,
        layers: list[nn.Linear],
        head: nn.Linear,
        input_size: int,
        num_classes: int,
        label_value: float,
        goodness_from: int,
        head_from: int,
        predict_batch_size: int = 10000,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.head = head
        self.input_size = input_size
        self.num_classes = num_classes
        self.label_value = label_value
        self.goodness_from = goodness_from
        self.head_from = head_from
        self.predict_batch_size = max(1, predict_batch_size)

    def linear_layers(self) -> list[nn.Linear]:
        """The feature layers, first to last."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def image_part(self, x_hat: Tensor) -> Tensor:
        """Layer 1's pre-activation without the label: ``W_img x̂ + b`` (N, H₁) of normalised
        images ``x̂`` (N, D)."""
        first = self.linear_layers()[0]
        return torch.addmm(first.bias, x_hat, first.weight[:, : self.input_size].t())

    def label_columns(self) -> Tensor:
        """Layer 1's pre-activation added by each label: ``v·W_lab`` as (C, H₁)."""
        first = self.linear_layers()[0]
        return first.weight[:, self.input_size :].t() * self.label_value

    def neutral_features(self, image: Tensor, label: Tensor | None = None) -> Tensor:
        """Concatenated normalised activities (N, F) of layers ``head_from..K`` for the neutral
        label, from layer 1's image part ``image`` (N, H₁) (and :meth:`label_columns` if already
        computed); no gradient."""
        with torch.no_grad():
            label = self.label_columns() if label is None else label
            z = image + label.mean(0)
            feats: list[Tensor] = []
            u: Tensor | None = None  # the previous layer's normalised activities
            for k, layer in enumerate(self.linear_layers(), start=1):
                if u is not None:
                    z = torch.addmm(layer.bias, u, layer.weight.t())
                u = rms_normalise(z.relu())
                if k >= self.head_from:
                    feats.append(u)
            return torch.cat(feats, 1)

    def _chunks(self, x: Tensor) -> list[Tensor]:
        size = self.predict_batch_size
        return [x[s : s + size] for s in range(0, x.shape[0], size)]

    @torch.no_grad()
    def goodness_per_label(self, x: Tensor) -> Tensor:
        """Summed goodness (N, C) of layers ``goodness_from..K`` for every label appended to the
        inputs ``x`` (N, D)."""
        layers = self.linear_layers()
        label = self.label_columns()  # (C, H1)
        parts: list[Tensor] = []
        for chunk in self._chunks(x):
            image = self.image_part(rms_normalise(chunk))  # (n, H1), shared by all labels
            out = torch.zeros(chunk.shape[0], self.num_classes, device=x.device, dtype=x.dtype)
            for c in range(self.num_classes):
                z = image + label[c]
                u: Tensor | None = None  # the previous layer's normalised activities
                for k, layer in enumerate(layers, start=1):
                    if u is not None:
                        z = torch.addmm(layer.bias, u, layer.weight.t())
                    h = z.relu_()
                    if k >= self.goodness_from:
                        out[:, c] += h.pow(2).sum(1)
                    if k < len(layers):
                        u = rms_normalise(h)
            parts.append(out)
        return torch.cat(parts) if parts else x.new_empty(0, self.num_classes)

    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64: the label of highest summed goodness."""
        return self.goodness_per_label(x).argmax(1)

    @torch.no_grad()
    def head_logits(self, x: Tensor) -> Tensor:
        """The linear head's logits (N, C) on the neutral-label activities of ``x`` (N, D)."""
        parts = [
            self.head(self.neutral_features(self.image_part(rms_normalise(chunk))))
            for chunk in self._chunks(x)
        ]
        return torch.cat(parts) if parts else x.new_empty(0, self.num_classes)

    def predict_head(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64 by the linear head."""
        return self.head_logits(x).argmax(1)

    def head_classifier(self) -> Predictor:
        """The head predictor as an object with ``predict`` (the suite's Classifier protocol)."""
        return Predictor(self.predict_head)


def build_net(
    recipe: StrongFFRecipe, input_size: int, num_classes: int, device: torch.device
) -> StrongFFNet:
    """The untrained network, drawn from ``recipe.seed`` (layers in order; head zero)."""
    gen = torch.Generator().manual_seed(recipe.seed)
    dims = (input_size + num_classes, *recipe.hidden)
    layers = [seeded_linear(i, o, gen, device) for i, o in itertools.pairwise(dims)]
    features = sum(recipe.hidden[recipe.head_from - 1 :])
    head = seeded_linear(features, num_classes, gen, device)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
    return StrongFFNet(
        layers,
        head,
        input_size,
        num_classes,
        recipe.label_value,
        recipe.goodness_from,
        recipe.head_from,
        recipe.predict_batch_size,
    )


StepFn = Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


def wrong_labels(y: Tensor, gumbel: Tensor, logits: Tensor | None) -> Tensor:
    """A wrong label (m,) per row of labels ``y`` (m,) by the Gumbel-max trick: the argmax over
    the classes other than ``y`` of ``s + gumbel`` with ``gumbel`` (m, C) standard Gumbel draws
    (``-log E``, ``E ~ Exp(1)``) and ``s`` the scores ``logits`` (m, C) (``None``: uniform over
    the wrong classes). Samples the softmax of ``s`` restricted to the wrong classes."""
    scores = gumbel if logits is None else gumbel + logits
    return scores.scatter(1, y[:, None], -math.inf).argmax(1)


@dataclass(frozen=True)
class LocalLoss:
    """The settings of every layer's local loss (see the module docstring)."""

    threshold: float
    temperature: float
    peer_norm: float
    peer_momentum: float

    @classmethod
    def of(cls, recipe: StrongFFRecipe) -> LocalLoss:
        """The recipe's loss settings."""
        return cls(recipe.threshold, recipe.temperature, recipe.peer_norm, recipe.peer_momentum)

    def affine(self, net: StrongFFNet) -> list[tuple[Tensor, Tensor]]:
        """Per layer, constants ``scale``, ``shift`` (2, 1) on the weights' device such that
        ``shift + g·scale`` is ``(-l_pos, l_neg)`` for goodness ``g`` (2, m) of positives and
        negatives, ``l = (g/width - θ)/T``: the BCE's softplus arguments, in one ``addcmul``."""
        out = []
        for layer in net.linear_layers():
            a = 1.0 / (self.temperature * layer.out_features)
            b = self.threshold / self.temperature
            w = layer.weight
            scale = torch.tensor([[-a], [a]], device=w.device, dtype=w.dtype)
            shift = torch.tensor([[b], [-b]], device=w.device, dtype=w.dtype)
            out.append((scale, shift))
        return out


def layer_losses(
    net: StrongFFNet,
    image: Tensor,
    pair: Tensor,
    loss: LocalLoss,
    running: list[Tensor],
    label: Tensor | None = None,
    affine: list[tuple[Tensor, Tensor]] | None = None,
) -> tuple[Tensor, Tensor]:
    """Every layer's local loss on positives and negatives: (BCE (K,), weighted peer term (K,);
    zeros and the running means left alone when ``peer_norm`` is 0). ``image`` (m, H₁) is layer
    1's image part, ``pair`` (2, m) the positive and the negative labels; ``label`` and
    ``affine`` are :meth:`StrongFFNet.label_columns` and :meth:`LocalLoss.affine` if already
    computed. Layer k+1's input is layer k's normalised, *detached* output, so layer k's losses
    depend on layer k's parameters (and the image part) only."""
    m = image.shape[0]
    label = net.label_columns() if label is None else label
    affine = loss.affine(net) if affine is None else affine
    z = (image[None] + label[pair]).view(2 * m, -1)  # (2m, H1): positives, then negatives
    layers = net.linear_layers()
    bces: list[Tensor] = []
    peers: list[Tensor] = []
    u: Tensor | None = None  # the previous layer's normalised activities (2m, H_k-1)
    for k, (layer, (scale, shift)) in enumerate(zip(layers, affine, strict=True)):
        if u is not None:
            z = torch.addmm(layer.bias, u, layer.weight.t())  # (2m, H_k)
        h = relu_pass_through(z.to(layer.weight.dtype))
        g = h.pow(2).sum(1).view(2, m)  # goodness: positives, negatives
        bces.append(F.softplus(torch.addcmul(shift, g, scale)).mean())
        if loss.peer_norm > 0:
            peers.append(peer_loss(h[:m], running[k], loss.peer_momentum))
        if k + 1 < len(layers):
            u = rms_normalise(h)
    bce = torch.stack(bces)
    if not peers:
        return bce, torch.zeros_like(bce)
    return bce, torch.stack(peers) * loss.peer_norm


def make_step_loss(
    recipe: StrongFFRecipe,
    net: StrongFFNet,
    running: list[Tensor],
    low: torch.dtype | None,
) -> StepFn:
    """The forward pass of one training step as a function ``(x̂_b, y_b, gumbel_b) ->
    (objective, logged)``: ``x̂_b`` (m, D) normalised images, ``y_b`` (m,) labels, ``gumbel_b``
    (m, C) standard Gumbel noise; ``objective`` (0-d) is what ``backward`` differentiates (every
    layer's BCE and peer term, plus the head's CE), ``logged`` (K+1,) the detached per-layer
    BCEs and the head's CE. Updates the peer running means in place. Products run in ``low``
    (autocast) if given."""
    loss_settings = LocalLoss.of(recipe)
    affine = loss_settings.affine(net)  # built here: no host-to-device copy inside a step
    hard = recipe.negatives == "hard"

    def step_loss(x_hat: Tensor, y: Tensor, gumbel: Tensor) -> tuple[Tensor, Tensor]:
        master = net.head.weight.dtype
        with torch.autocast(
            x_hat.device.type, dtype=low, enabled=low is not None, cache_enabled=False
        ):
            image = net.image_part(x_hat).to(master)  # (m, H1), shared by all label variants
            label = net.label_columns()  # (C, H1)
            feats = net.neutral_features(image.detach(), label.detach())  # (m, F)
            logits = net.head(feats).to(master)  # (m, C)
            head_loss = F.cross_entropy(logits, y)
            y_neg = wrong_labels(y, gumbel, logits.detach() if hard else None)
            pair = torch.stack([y, y_neg])  # (2, m)
            bce, peer = layer_losses(net, image, pair, loss_settings, running, label, affine)
        objective = head_loss + bce.sum() + peer.sum()
        logged = torch.cat([bce.detach(), head_loss.detach()[None]])
        return objective, logged

    return step_loss


def train_strong(
    recipe: StrongFFRecipe,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    observer: TrainObserver | None = None,
    image_shape: tuple[int, int, int] | None = None,
) -> Fitted[StrongFFNet]:
    """Train on ``x`` (N, D) and labels ``y`` (N,), on their device, in float32 master weights
    (products in ``recipe.precision``). The same seed gives bit-identical weights on the CPU.
    ``image_shape`` (C, H, W) of a row is needed when ``recipe.shift`` moves the images.

    Random streams: the weights from ``seed`` (CPU generator, layers then head), the row order
    from ``seed + 1``, the negatives' noise from ``seed + 2`` and the shifts from ``seed + 3``
    (device generators)."""
    validate_strong(recipe, x.shape[1], num_classes)
    if recipe.shift > 0 and (image_shape is None or math.prod(image_shape) != x.shape[1]):
        raise RecipeError(
            f"shift={recipe.shift} moves images, but the rows ({x.shape[1]} entries) are not "
            f"images of shape {image_shape}; use --set shift=0"
        )
    obs: TrainObserver = observer if observer is not None else NullObserver()
    device = x.device
    n = x.shape[0]
    if n < 1:
        raise RecipeError("cannot train on an empty split")
    low = product_dtype(recipe.precision)
    graphs = recipe.compile == "cudagraphs"
    net = build_net(recipe, x.shape[1], num_classes, device)
    running = [torch.zeros(w, device=device) for w in recipe.hidden]
    x_hat = rms_normalise(x.float())  # (N, D); once, or refilled in place each epoch (shift)
    features = [p for layer in net.linear_layers() for p in layer.parameters()]
    head = list(net.head.parameters())

    def lr_value(value: float) -> float | Tensor:
        # a captured graph reads the learning rate from a tensor updated in place
        return torch.tensor(value, device=device) if graphs else value

    opt = torch.optim.AdamW(
        [
            {"params": features, "lr": lr_value(recipe.lr), "weight_decay": recipe.weight_decay},
            {
                "params": head,
                "lr": lr_value(recipe.head_lr),
                "weight_decay": recipe.head_weight_decay,
            },
        ],
        fused=device.type == "cuda" or None,
        capturable=graphs,
    )
    base_lrs = (recipe.lr, recipe.head_lr)
    step_loss = make_step_loss(recipe, net, running, low)
    forward = torch.compile(step_loss, dynamic=False) if recipe.compile == "inductor" else step_loss
    batch = min(n if recipe.batch_size is None else recipe.batch_size, n)
    layers = len(recipe.hidden)
    gumbel = torch.empty(n, num_classes, device=device)  # refilled every epoch, in place

    def epoch(perm: Tensor | None) -> Tensor:
        assert perm is not None, "ff_strong epochs always have a row order"
        total = torch.zeros(layers + 1, device=device)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            objective, logged = forward(x_hat[idx], y[idx], gumbel[start : start + batch])
            opt.zero_grad(set_to_none=not graphs)
            objective.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += logged * idx.shape[0]
        return total / n

    names = (*(f"layer{k}" for k in range(1, layers + 1)), "head")
    shuffle_gen = torch.Generator(device=device).manual_seed(recipe.seed + 1)
    noise_gen = torch.Generator(device=device).manual_seed(recipe.seed + 2)
    shift_gen = torch.Generator(device=device).manual_seed(recipe.seed + 3)

    def body(e: int) -> Tensor:
        if e > 0:
            gumbel.exponential_(generator=noise_gen).log_().neg_()
        if recipe.shift > 0 and image_shape is not None:
            moved = translate(x.float(), image_shape, recipe.shift, shift_gen)
            x_hat.copy_(rms_normalise(moved))
        return runner(torch.randperm(n, generator=shuffle_gen, device=device))  # (K+1,)

    plan = Epochs("train", recipe.epochs, recipe.lr, recipe.schedule, recipe.nan_check_every, names)
    with precision_scope(recipe.precision, device):
        gumbel.exponential_(generator=noise_gen).log_().neg_()
        runner = EpochRunner(epoch, recipe.compile, [*net.parameters(), *running], [opt], device)
        compile_seconds = runner.prepare(torch.arange(n, device=device))
        losses, _ = run_epochs(plan, body, obs, lambda: net, device, opt, base_lrs)
    options: dict[str, object] = {
        "compile": recipe.compile,
        "compiled": recipe.compile == "inductor",
        "cuda_graphs": graphs,
        "compile_seconds": compile_seconds,
        "precision": recipe.precision,
        "product_dtype": str(low or torch.float32).removeprefix("torch."),
        "predict_dtype": "float32",
        "negatives": recipe.negatives,
        "schedule": recipe.schedule,
        "input_pipeline": "tensor",
        "shared_image_product": True,
        "fused_adam": device.type == "cuda",
        "optimizer": "adamw",
        "predictors": ["goodness", "head"],
        "goodness_layers": list(range(recipe.goodness_from, layers + 1)),
        "head_layers": list(range(recipe.head_from, layers + 1)),
    }
    return Fitted(
        model=net, losses=losses, options=options, predictors={"head": net.head_classifier()}
    )


def check_strong(recipe: StrongFFRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe that cannot train on ``info``."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    validate_strong(recipe, info.input_size, info.num_classes)


METHOD = RecipeMethod(
    name="ff_strong",
    description=(
        "FF, all layers at once with local losses, peer normalisation, hard negatives; "
        "goodness predictor, plus a backprop-trained linear head scored beside it"
    ),
    recipes=RECIPES,
    check=check_strong,
    train=lambda recipe, data, observer: train_strong(
        recipe,
        data.train.x,
        data.train.y,
        data.info.num_classes,
        observer,
        image_shape=data.info.image_shape,
    ),
)

"""What Forward-Forward and backprop training share: seeded layer initialisation and a loss log
that stays on the device, checked for divergence only every few epochs.

Training loops must not synchronise the device once per step (no ``.item()``); :class:`LossLog`
keeps every epoch's mean loss in a device tensor, and :meth:`LossLog.check` costs one host read,
called every ``nan_check_every`` epochs and at the end of a phase.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.errors import FFBenchError
from ff_algos.observe import TrainObserver, offer_model
from ff_algos.precision import Precision, precision_scope, product_dtype

if TYPE_CHECKING:
    from ff_algos.method import Classifier


class DivergenceError(FFBenchError, FloatingPointError):
    """Training produced a non-finite loss (usually a learning rate that is too large)."""


def seeded_linear(
    in_features: int,
    out_features: int,
    generator: torch.Generator,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> nn.Linear:
    """An ``nn.Linear`` initialised as PyTorch's default (weight and bias uniform in
    ±1/sqrt(in_features)) but drawn from ``generator`` on the CPU, so that the same seed gives the
    same initial weights on every device and the global RNG is left alone."""
    bound = 1.0 / math.sqrt(in_features)
    weight = (torch.rand(out_features, in_features, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(out_features, generator=generator) * 2 - 1) * bound
    layer = nn.Linear(in_features, out_features, device="meta")
    layer.weight = nn.Parameter(weight.to(device=device, dtype=dtype))
    layer.bias = nn.Parameter(bias.to(device=device, dtype=dtype))
    return layer


class LossLog:
    """Per-epoch mean losses of one phase, held on the device until :meth:`host` reads them once."""

    def __init__(self, phase: str, epochs: int, lr: float, device: torch.device) -> None:
        self.phase = phase
        self.lr = lr
        self._values = torch.zeros(epochs, device=device)
        self._checked = 0  # epochs [0, _checked) are known finite

    def record(self, epoch: int, loss: Tensor) -> None:
        """Store epoch ``epoch``'s mean loss (a 0-d tensor); queues a copy, never syncs."""
        self._values[epoch] = loss.detach()

    def check(self, upto: int) -> None:
        """Raise :class:`DivergenceError` if any loss of epochs before ``upto`` is not finite
        (one host read)."""
        if upto <= self._checked:
            return
        window = self._values[self._checked : upto]
        if not bool(torch.isfinite(window).all()):
            bad = int(torch.nonzero(~torch.isfinite(window))[0, 0]) + self._checked
            raise DivergenceError(
                f"{self.phase}: loss became non-finite at epoch {bad + 1} (checked epochs "
                f"{self._checked + 1}-{upto}) with lr={self.lr:g}; lower the learning rate, "
                "e.g. --set lr=..."
            )
        self._checked = upto

    def host(self) -> list[float]:
        """All epochs' losses as Python floats (one device-to-host copy)."""
        values: list[float] = self._values.cpu().tolist()
        return values


Schedule = Literal["constant", "cooldown"]
SCHEDULES: tuple[Schedule, ...] = ("constant", "cooldown")


def lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """The learning-rate multiplier of epoch ``epoch`` (0-based): 1, or for ``cooldown`` 1 in the
    first half and ``2·(epochs - epoch)/epochs`` (linear down to ``2/epochs``) in the second."""
    if schedule == "cooldown" and 2 * epoch >= epochs:
        return min(1.0, 2.0 * (epochs - epoch) / epochs)
    return 1.0


class _LoopRecipe(Protocol):
    """The recipe fields a training loop reads (:func:`fit_end_to_end`, :func:`recipe_phase`;
    a frozen dataclass has more)."""

    @property
    def epochs(self) -> int: ...
    @property
    def lr(self) -> float: ...
    @property
    def batch_size(self) -> int | None: ...
    @property
    def seed(self) -> int: ...
    @property
    def schedule(self) -> str: ...
    @property
    def precision(self) -> Precision: ...
    @property
    def nan_check_every(self) -> int: ...


def fit_end_to_end(
    model: nn.Module,
    recipe: _LoopRecipe,
    x: Tensor,
    y: Tensor,
    obs: TrainObserver,
    augment: Callable[[Tensor], Tensor] | None = None,
) -> list[float]:
    """Backprop training of a whole classifier (the baselines ``bp_conv`` and ``bp_attn``): Adam
    on cross entropy, mini-batches in a seeded order (``seed + 1``), each batch of rows passed
    through ``augment`` first if given, the recipe's schedule and product precision, one phase
    ``train``; the per-epoch mean losses."""
    low = product_dtype(recipe.precision)

    def loss_of(xb: Tensor, yb: Tensor) -> Tensor:
        if augment is not None:
            xb = augment(xb)
        with torch.autocast(xb.device.type, dtype=low, enabled=low is not None):
            return F.cross_entropy(model(xb).float(), yb)

    shuffle = torch.Generator(device=x.device).manual_seed(recipe.seed + 1)
    phase = recipe_phase(
        "train",
        list(model.parameters()),
        loss_of,
        recipe,
        None,
        lambda: typing.cast("Classifier", model),
    )
    with precision_scope(recipe.precision, x.device):
        losses, _ = train_phase(phase, x, y, obs, shuffle)
    return losses


StepFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Phase:
    """One greedy phase of a layer-local method (a block of ``ff_conv`` or ``ff_attn``, or their
    linear head): what it trains, its loss on a batch, its schedule and what it hands on."""

    name: str
    params: list[nn.Parameter]
    loss_of: StepFn  # (u_b, y_b) -> 0-d loss
    epochs: int
    lr: float
    batch_size: int | None  # None: the whole input as one batch
    schedule: str
    nan_check_every: int
    hand_on: Callable[[], Tensor] | None  # the next phase's input, computed in the last epoch
    model: Callable[[], Classifier]  # the network trained so far, for observers that score it


def train_phase(
    phase: Phase, u: Tensor, y: Tensor, obs: TrainObserver, gen: torch.Generator
) -> tuple[list[float], Tensor | None]:
    """Train ``phase.params`` by Adam on ``phase.loss_of(u_b, y_b)`` over mini-batches of the
    inputs ``u`` (N, ...) and labels ``y`` (N,) in an order drawn from ``gen``; ``hand_on`` runs
    inside the last epoch (timed with it). The per-epoch mean losses and what ``hand_on``
    returned."""
    n = u.shape[0]
    batch = min(n if phase.batch_size is None else phase.batch_size, n)
    opt = torch.optim.Adam(phase.params, lr=phase.lr, fused=u.device.type == "cuda" or None)
    log = LossLog(phase.name, phase.epochs, phase.lr, u.device)
    out: Tensor | None = None
    obs.phase_start(phase.name, phase.epochs)
    for e in range(phase.epochs):
        for group in opt.param_groups:
            group["lr"] = phase.lr * lr_factor(phase.schedule, e, phase.epochs)
        perm = torch.randperm(n, generator=gen, device=u.device)
        total = torch.zeros((), device=u.device)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            loss = phase.loss_of(u[idx], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += loss.detach() * idx.shape[0]
        log.record(e, total / n)
        if e == phase.epochs - 1 and phase.hand_on is not None:
            out = phase.hand_on()
        obs.epoch_end(e)
        offer_model(obs, e, phase.model)
        every = phase.nan_check_every
        if every > 0 and (e + 1) % every == 0:
            log.check(e + 1)
    log.check(phase.epochs)
    obs.phase_end()
    return log.host(), out


class _HeadRecipe(Protocol):
    """The recipe fields :func:`head_phase` reads."""

    @property
    def head_epochs(self) -> int: ...
    @property
    def head_lr(self) -> float: ...
    @property
    def head_batch_size(self) -> int | None: ...
    @property
    def schedule(self) -> str: ...
    @property
    def nan_check_every(self) -> int: ...


def head_phase(head: nn.Linear, recipe: _HeadRecipe, model: Callable[[], Classifier]) -> Phase:
    """Phase ``head``: the linear softmax classifier ``head`` trained by cross entropy on fixed
    features (the head ``ff_conv`` and ``ff_attn`` score beside their goodness predictor)."""

    def loss_of(features: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(head(features), y)

    return Phase(
        "head",
        list(head.parameters()),
        loss_of,
        recipe.head_epochs,
        recipe.head_lr,
        recipe.head_batch_size,
        recipe.schedule,
        recipe.nan_check_every,
        None,
        model,
    )


def recipe_phase(
    name: str,
    params: list[nn.Parameter],
    loss_of: StepFn,
    recipe: _LoopRecipe,
    hand_on: Callable[[], Tensor] | None,
    model: Callable[[], Classifier],
) -> Phase:
    """A phase on the recipe's own epochs, learning rate, batch size, schedule and NaN checks."""
    return Phase(
        name,
        params,
        loss_of,
        recipe.epochs,
        recipe.lr,
        recipe.batch_size,
        recipe.schedule,
        recipe.nan_check_every,
        hand_on,
        model,
    )

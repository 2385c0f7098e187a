"""The one epoch loop every method trains through, and the pieces around it.

:func:`run_epochs` is the loop: per epoch it sets the learning rate of the schedule, runs the
method's epoch body (which queues the epoch's work and returns its mean loss on the device: one
value, or one per layer), stores the loss, hands the next phase its input in the last epoch,
tells the observer, offers it the network so far, and checks for divergence every
``nan_check_every`` epochs (one host read each; :class:`LossLog`). What differs between methods
is the body: :func:`minibatch_epoch` (Adam or AdamW over seeded mini-batches, a 0-d or a
per-layer loss) serves most; FF, backprop and ``ff_strong`` pass the epoch of their
:class:`~ff_algos.methods.common.compiled.EpochRunner` (eager, compiled or a replayed CUDA
graph). :func:`train_phase` is a greedy phase (a block or a head) built on both.

Training loops must not synchronise the device once per step (no ``.item()``).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.errors import DivergenceError
from ff_algos.method import TrainObserver, offer_model
from ff_algos.methods.common.precision import Precision, precision_scope, product_dtype

if TYPE_CHECKING:
    from ff_algos.method import Classifier


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


@dataclass(frozen=True)
class Epochs:
    """What the loop around a phase's epoch body needs to know."""

    phase: str  # the observer's phase name
    epochs: int
    lr: float  # the base learning rate (named in divergence messages)
    schedule: str = "constant"  # see lr_factor; applied to the optimiser passed to run_epochs
    nan_check_every: int = 0  # epochs between divergence checks (0: only at the end)
    losses: tuple[str, ...] = ()  # names of a per-layer body loss (K,); (): one, named ``phase``


EpochBody = Callable[[int], Tensor]  # epoch -> its mean loss on the device, 0-d or (K,)


def run_epochs(
    plan: Epochs,
    body: EpochBody,
    obs: TrainObserver,
    model: Callable[[], Classifier] | None,
    device: torch.device,
    optimizer: torch.optim.Optimizer | None = None,
    base_lrs: Sequence[float] | None = None,
    hand_on: Callable[[], Tensor] | None = None,
) -> tuple[dict[str, list[float]], Tensor | None]:
    """Run ``plan.epochs`` epochs of ``body`` as one observed phase (see the module docstring).

    ``optimizer``'s param groups get ``base_lrs`` (default: ``plan.lr`` each) times the schedule's
    factor before every epoch (a tensor learning rate, as a captured graph reads, is filled in
    place). ``hand_on`` runs inside the last epoch, timed with it. Returns the per-epoch losses
    (name -> list, one host read at the end) and what ``hand_on`` returned."""
    names = plan.losses or (plan.phase,)
    logs = [LossLog(name, plan.epochs, plan.lr, device) for name in names]
    groups = optimizer.param_groups if optimizer is not None else []
    bases = list(base_lrs) if base_lrs is not None else [plan.lr] * len(groups)
    out: Tensor | None = None
    every = plan.nan_check_every
    obs.phase_start(plan.phase, plan.epochs)
    for e in range(plan.epochs):
        factor = lr_factor(plan.schedule, e, plan.epochs)
        for group, base in zip(groups, bases, strict=True):
            if isinstance(group["lr"], Tensor):
                group["lr"].fill_(base * factor)
            else:
                group["lr"] = base * factor
        loss = body(e)
        if plan.losses:
            for k, log in enumerate(logs):
                log.record(e, loss[k])
        else:
            logs[0].record(e, loss)
        if e == plan.epochs - 1 and hand_on is not None:
            out = hand_on()
        obs.epoch_end(e)
        if model is not None:
            offer_model(obs, e, model)
        if every > 0 and (e + 1) % every == 0:
            for log in logs:
                log.check(e + 1)
    for log in logs:
        log.check(plan.epochs)
    obs.phase_end()
    return {log.phase: log.host() for log in logs}, out


def minibatch_epoch(
    opt: torch.optim.Optimizer,
    loss_of: Callable[[Tensor], Tensor],
    n: int,
    batch: int,
    gen: torch.Generator,
    device: torch.device,
    layers: int | None = None,
) -> EpochBody:
    """The plain epoch body: the ``n`` rows in an order drawn from ``gen`` (on ``device``), in
    mini-batches of ``batch``; per batch ``loss_of(rows)`` (row indices (m,) -> a 0-d loss, or
    with ``layers`` = K one loss per layer (K,), summed for ``backward``), a gradient step of
    ``opt``; returns the row-weighted mean loss."""

    def body(epoch: int) -> Tensor:
        perm = torch.randperm(n, generator=gen, device=device)
        total = torch.zeros(() if layers is None else layers, device=device)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            loss = loss_of(idx)
            opt.zero_grad(set_to_none=True)
            (loss if layers is None else loss.sum()).backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += loss.detach() * idx.shape[0]
        return total / n

    return body


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
    """One greedy phase of a layer-local method (a block of ``ff_conv`` or ``ff_attn``, their
    linear head, FF's head or fine-tuning): what it trains, its loss on a batch, its schedule and
    what it hands on."""

    name: str
    params: list[nn.Parameter]
    loss_of: StepFn  # (u_b, y_b) -> 0-d loss
    epochs: int
    lr: float
    batch_size: int | None  # None: the whole input as one batch
    schedule: str
    nan_check_every: int
    hand_on: Callable[[], Tensor] | None  # the next phase's input, computed in the last epoch
    model: Callable[[], Classifier] | None  # the network so far, for observers that score it
    fused_adam: bool = True  # fused Adam on CUDA (False: PyTorch's default implementation)


def train_phase(
    phase: Phase, u: Tensor, y: Tensor, obs: TrainObserver, gen: torch.Generator
) -> tuple[list[float], Tensor | None]:
    """Train ``phase.params`` by Adam on ``phase.loss_of(u_b, y_b)`` over mini-batches of the
    inputs ``u`` (N, ...) and labels ``y`` (N,) in an order drawn from ``gen``; ``hand_on`` runs
    inside the last epoch (timed with it). The per-epoch mean losses and what ``hand_on``
    returned."""
    n = u.shape[0]
    batch = min(n if phase.batch_size is None else phase.batch_size, n)
    fused = (u.device.type == "cuda" or None) if phase.fused_adam else None
    opt = torch.optim.Adam(phase.params, lr=phase.lr, fused=fused)
    body = minibatch_epoch(opt, lambda idx: phase.loss_of(u[idx], y[idx]), n, batch, gen, u.device)
    plan = Epochs(phase.name, phase.epochs, phase.lr, phase.schedule, phase.nan_check_every)
    losses, out = run_epochs(plan, body, obs, phase.model, u.device, opt, hand_on=phase.hand_on)
    return losses[phase.name], out


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

"""Held memory: bytes saved for backward counted exactly (parameters aside, shared storages
once; autocast's copies of parameters apart from activations), optimiser memory after every
step, and the suite's probe of a case."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from ff_algos import registry
from ff_algos.record import HeldMemory
from ff_algos.suite.case import CaseSpec, held_memory
from ff_algos.telemetry.held_memory import HeldMemoryMeter

BATCH, IN, WIDTH, CLASSES = 16, 32, 64, 10
F32, BF16 = 4, 2


def _mlp_step(depth: int, steps: int = 2) -> HeldMemoryMeter:
    torch.manual_seed(0)
    dims = [IN] + [WIDTH] * depth
    layers: list[nn.Module] = []
    for i, o in itertools.pairwise(dims):
        layers += [nn.Linear(i, o), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(WIDTH, CLASSES))
    opt = torch.optim.Adam(model.parameters())
    x, y = torch.randn(BATCH, IN), torch.randint(0, CLASSES, (BATCH,))
    with HeldMemoryMeter() as meter:
        for _ in range(steps):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    return meter


def test_saved_bytes_grow_by_one_activation_per_layer() -> None:
    two, four, eight = (_mlp_step(d).result(BATCH) for d in (2, 4, 8))
    per_layer = BATCH * WIDTH * F32  # ReLU's output, also the next Linear's input: once
    assert four.saved_for_backward_peak_bytes - two.saved_for_backward_peak_bytes == 2 * per_layer
    assert eight.saved_for_backward_peak_bytes - four.saved_for_backward_peak_bytes == 4 * per_layer


def test_parameters_and_adam_state_are_counted_after_steps() -> None:
    meter = _mlp_step(2)
    params = (IN * WIDTH + WIDTH) + (WIDTH * WIDTH + WIDTH) + (WIDTH * CLASSES + CLASSES)
    held = meter.result(BATCH)
    assert held.parameter_bytes == params * F32
    # Adam: two moments per parameter, plus one step counter per parameter tensor
    assert held.optimizer_state_bytes == 2 * params * F32 + 6 * F32
    assert meter._bytes == 0  # every saved tensor was released after its backward


def test_no_hooks_remain_after_the_meter() -> None:
    with HeldMemoryMeter() as meter:
        pass
    x = torch.randn(4, 3, requires_grad=True)
    (x.relu() * 2).sum().backward()  # type: ignore[no-untyped-call]
    assert meter.saved_peak == 0


def _step(model: nn.Module, x: torch.Tensor, bf16: bool) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(x).float().sum()
    loss.backward()


def _forward_backward(model: nn.Module, x: torch.Tensor, bf16: bool) -> tuple[HeldMemory, int]:
    """What the meter counts for one step under bf16 autocast (or none), and the bytes of every
    distinct storage autograd saves in that step, counted by a plain hook on a second step."""
    with HeldMemoryMeter() as meter:
        _step(model, x, bf16)
    assert meter._bytes == 0
    saved: dict[int, int] = {}  # storage -> bytes; all stay alive until the backward

    def count(t: torch.Tensor) -> torch.Tensor:
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(count, lambda t: t):
        _step(model, x, bf16)
    return meter.result(BATCH), sum(saved.values())


@pytest.mark.parametrize("bf16", [False, True])
def test_autocast_weight_copies_of_a_linear_are_not_activations(bf16: bool) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(IN, WIDTH), nn.ReLU(), nn.Linear(WIDTH, CLASSES))
    held, every_saved = _forward_backward(model, torch.randn(BATCH, IN), bf16)
    size = BF16 if bf16 else F32
    # activations: the input (under autocast its bf16 cast) for the first weight's gradient and
    # ReLU's output (also the second linear's input: one storage). The second weight is saved for
    # ReLU's gradient: in fp32 a view of the parameter (W.t(), not counted), under autocast a view
    # of its bf16 cast. The first weight is not saved (the input needs no gradient), nor biases.
    assert held.saved_for_backward_peak_bytes == (BATCH * IN + BATCH * WIDTH) * size
    assert held.cast_parameter_peak_bytes == (WIDTH * CLASSES * BF16 if bf16 else 0)
    if bf16:  # counting the cast as an activation, as before, would give every_saved
        assert held.saved_for_backward_peak_bytes < every_saved
        assert held.saved_for_backward_peak_bytes + held.cast_parameter_peak_bytes == every_saved


@pytest.mark.parametrize("bf16", [False, True])
def test_autocast_weight_copies_of_a_conv_are_not_activations(bf16: bool) -> None:
    torch.manual_seed(0)
    channels, out, kernel, side = 3, 8, 3, 10
    model = nn.Conv2d(channels, out, kernel)
    x = torch.randn(2, channels, side, side)
    held, every_saved = _forward_backward(model, x, bf16)
    size = BF16 if bf16 else F32
    # convolution's backward saves its input (under autocast: the input's bf16 cast) and its
    # weight (in fp32 the parameter itself, not counted; under autocast its bf16 cast)
    assert held.saved_for_backward_peak_bytes == x.numel() * size
    assert held.cast_parameter_peak_bytes == (out * channels * kernel**2 * BF16 if bf16 else 0)
    if bf16:
        assert held.saved_for_backward_peak_bytes < every_saved


@pytest.mark.parametrize(
    ("product", "cast_elements"),
    [
        (lambda h, w: h @ w.t()[:, :10], IN * 10),  # a cast of a view of the parameter
        (lambda h, w: nn.functional.linear(h, w[:40]), 40 * IN),  # a view of a cast of a view
        (lambda h, w: h.bfloat16() @ w.bfloat16().t(), WIDTH * IN),  # cast by hand
    ],
    ids=["cast_of_view", "view_of_cast_of_view", "explicit_cast"],
)
def test_copies_of_parameters_are_found_through_views_and_casts_of_activations_are_not(
    product: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], cast_elements: int
) -> None:
    weight = nn.Parameter(torch.randn(WIDTH, IN))
    hidden = torch.randn(BATCH, IN, requires_grad=True).relu()  # an fp32 activation
    with HeldMemoryMeter() as meter:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = product(hidden, weight).float().sum()
        loss.backward()  # type: ignore[no-untyped-call]
    held = meter.result(BATCH)
    # the product saves the activation's bf16 cast (a cast, but of an activation) and the weight's
    assert held.saved_for_backward_peak_bytes == BATCH * IN * BF16
    assert held.cast_parameter_peak_bytes == cast_elements * BF16


@pytest.mark.parametrize(("method", "saves"), [("bp", True), ("ff", False)])
def test_a_case_probe_measures_its_method(
    method: str, saves: bool, real_data_root: Callable[[str], Path]
) -> None:
    recipe = registry.recipe(method, "tiny")
    held = held_memory(CaseSpec("mnist", recipe, torch.device("cpu"), real_data_root("mnist")))
    assert held.optimizer_state_bytes >= 2 * held.parameter_bytes > 0  # Adam's two moments
    # backprop keeps activations for its backward; FF's fast path writes its gradients by hand
    assert (held.saved_for_backward_peak_bytes > 0) == saves
    batch = getattr(recipe, "batch_size", None)
    assert held.rows == (batch if batch is not None else recipe.train_size)

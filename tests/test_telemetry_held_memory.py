"""Held memory: bytes saved for backward counted exactly (parameters aside, shared storages
once), optimiser memory after every step, and the suite's probe of a case."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from ff_algos import registry
from ff_algos.suite.case import CaseSpec, held_memory
from ff_algos.telemetry.held_memory import HeldMemoryMeter

BATCH, IN, WIDTH, CLASSES = 16, 32, 64, 10
F32 = 4


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

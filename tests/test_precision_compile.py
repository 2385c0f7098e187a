"""Precision (fp32, tf32, bf16) and compile modes (none, inductor, cudagraphs): bf16 keeps the
fast path's algebra (against float64 autograd, at bf16's tolerance), compiled training trains
exactly as eager training, options a CPU cannot run are refused, and the executed-FLOP counts
agree with ``torch.utils.flop_counter.FlopCounterMode``."""

from __future__ import annotations

import contextlib
import dataclasses
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from ff_algos.data import LoadedDataset, Split, dataset_info
from ff_algos.errors import CompileError, PrecisionError
from ff_algos.method import NullObserver
from ff_algos.methods import bp as backprop
from ff_algos.methods import ff_finetune, ff_head
from ff_algos.methods.bp import BPRecipe
from ff_algos.methods.common import overlay as ff
from ff_algos.methods.common.compiled import check_compile
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import Phase
from ff_algos.methods.common.overlay import FFRecipe
from ff_algos.methods.common.precision import check_precision

N, D, C, H = 48, 30, 5, 16
# a dataset of D-entry rows and C classes, for the recipes' FLOP counts
INFO = dataclasses.replace(dataset_info("mnist"), image_shape=(1, 1, D), num_classes=C)
CPU = torch.device("cpu")


def rel_err(a: Tensor, b: Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.fixture
def data() -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(3)
    return torch.rand(N, D, generator=gen), torch.randint(0, C, (N,), generator=gen)


def autograd_grads(
    layer: torch.nn.Linear, x_pos: Tensor, x_neg: Tensor, scale: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Loss and gradients of the plain FF layer loss, in float64."""
    w = layer.weight.detach().double().requires_grad_()
    b = layer.bias.detach().double().requires_grad_()

    def good(x: Tensor) -> Tensor:
        d = x.double() / (x.double().norm(2, 1, keepdim=True) + ff.EPS)
        return torch.relu(d @ w.t() + b).pow(2).sum(1) * scale

    loss = ff.ff_loss(good(x_pos), good(x_neg), 2.0)
    gw, gb = torch.autograd.grad(loss, [w, b])
    return loss.detach(), gw, gb


@pytest.mark.parametrize("batch", [None, [0, 7, 19, 40]])
def test_bf16_first_layer_keeps_the_algebra(
    data: tuple[Tensor, Tensor], batch: list[int] | None
) -> None:
    x, y = data
    y_neg = torch.roll(y, 1)
    layer = seeded_linear(D, H, torch.Generator().manual_seed(0), CPU)
    pairs = ff._OverlaidPairs(x, y, y_neg, C, x.max(), torch.bfloat16)
    idx = None if batch is None else torch.tensor(batch)
    loss = pairs.step(layer, idx, 2.0, 1.0 / H)
    rows = slice(None) if batch is None else batch
    value = x.max()
    ref = autograd_grads(
        layer, ff.overlay(x, y, C, value)[rows], ff.overlay(x, y_neg, C, value)[rows], 1.0 / H
    )
    assert layer.weight.grad is not None
    assert layer.bias.grad is not None
    assert pairs.base.dtype == torch.bfloat16
    assert layer.weight.grad.dtype == torch.float32  # fp32 gradients for the fp32 master weights
    assert rel_err(loss, ref[0]) < 1e-2
    assert rel_err(layer.weight.grad, ref[1]) < 2e-2
    assert rel_err(layer.bias.grad, ref[2]) < 2e-2


def test_bf16_deeper_layer_keeps_the_algebra() -> None:
    gen = torch.Generator().manual_seed(1)
    h_pos, h_neg = (
        torch.relu(torch.randn(N, H, generator=gen)),
        torch.relu(torch.randn(N, H, generator=gen)),
    )
    layer = seeded_linear(H, 9, torch.Generator().manual_seed(2), CPU)
    pairs = ff._PlainPairs(torch.cat([h_pos, h_neg]), torch.bfloat16)
    loss = pairs.step(layer, None, 2.0, 1.0)
    ref = autograd_grads(layer, h_pos, h_neg, 1.0)
    assert layer.weight.grad is not None
    assert layer.bias.grad is not None
    assert rel_err(loss, ref[0]) < 1e-2
    assert rel_err(layer.weight.grad, ref[1]) < 2e-2
    assert rel_err(layer.bias.grad, ref[2]) < 2e-2


@pytest.mark.parametrize("low", [None, torch.bfloat16])
@pytest.mark.parametrize("batch", [None, [0, 7, 19, 40]])
def test_pure_grads_equal_the_buffered_step(
    data: tuple[Tensor, Tensor], low: torch.dtype | None, batch: list[int] | None
) -> None:
    """``grads`` (what inductor compiles) computes what ``step`` computes, for both layer kinds."""
    x, y = data
    x = x.double() if low is None else x
    gen = torch.Generator().manual_seed(0)
    layer = seeded_linear(D, H, gen, CPU, x.dtype)
    deeper = seeded_linear(H, 7, gen, CPU, x.dtype)
    first = ff._OverlaidPairs(x, y, torch.roll(y, 1), C, x.max(), low)
    second = ff._PlainPairs(first.outputs(layer), low)
    idx = None if batch is None else torch.tensor(batch)
    rtol, atol = (1e-2, 1e-4) if low is not None else (None, None)
    for pairs, lin in ((first, layer), (second, deeper)):
        loss, gw, gb = pairs.grads(idx, lin.weight, lin.bias, 2.0, 0.1)
        step_loss = pairs.step(lin, idx, 2.0, 0.1)
        torch.testing.assert_close(loss, step_loss, rtol=rtol, atol=atol)
        torch.testing.assert_close(gw, lin.weight.grad, rtol=rtol, atol=atol)
        torch.testing.assert_close(gb, lin.bias.grad, rtol=rtol, atol=atol)


def test_bf16_training_follows_fp32(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    recipe = FFRecipe(name="t", hidden=(H, 8), epochs=30, batch_size=16, lr=0.03)
    fp32 = ff.train_ff(recipe, x, y, C)
    bf16 = ff.train_ff(dataclasses.replace(recipe, precision="bf16"), x, y, C)
    assert bf16.options["product_dtype"] == "bfloat16"
    for phase, losses in fp32.losses.items():
        assert abs(bf16.losses[phase][-1] - losses[-1]) < 0.02 * abs(losses[-1]) + 1e-3
    bp32 = backprop.train_bp(BPRecipe(name="t", hidden=(H,), epochs=5, batch_size=8), x, y, C)
    bp16 = backprop.train_bp(
        BPRecipe(name="t", hidden=(H,), epochs=5, batch_size=8, precision="bf16"), x, y, C
    )
    assert (
        abs(bp16.losses["train"][-1] - bp32.losses["train"][-1]) < 0.05 * bp32.losses["train"][-1]
    )


@pytest.mark.parametrize(
    ("check", "value", "error"),
    [
        (check_precision, "tf32", PrecisionError),
        (check_precision, "fp16", PrecisionError),
        (check_compile, "cudagraphs", CompileError),
        (check_compile, "jit", CompileError),
    ],
)
def test_cpu_refuses_what_it_cannot_run(check: object, value: str, error: type[Exception]) -> None:
    with pytest.raises(error, match=value):
        check(value, CPU)  # type: ignore[operator]


def test_training_refuses_tf32_on_cpu(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    with pytest.raises(PrecisionError, match="tf32 needs a CUDA device"):
        ff.train_ff(FFRecipe(name="t", hidden=(H,), epochs=1, precision="tf32"), x, y, C)


@pytest.mark.slow
def test_inductor_trains_exactly_as_eager(data: tuple[Tensor, Tensor]) -> None:
    """Compiling runs a warm-up epoch and restores weights and Adam's state: the losses and
    weights then follow the eager run (up to the compiled kernels' rounding)."""
    x, y = data
    recipe = FFRecipe(name="t", hidden=(H, 8), epochs=4, batch_size=16)
    eager = ff.train_ff(recipe, x, y, C)
    compiled = ff.train_ff(dataclasses.replace(recipe, compile="inductor"), x, y, C)
    assert compiled.options["compiled"] is True
    assert compiled.options["compile_seconds"] > 0
    for phase, losses in eager.losses.items():
        torch.testing.assert_close(compiled.losses[phase], losses, rtol=1e-4, atol=1e-5)
    for a, b in zip(eager.model.parameters(), compiled.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)
    bp = BPRecipe(name="t", hidden=(H,), epochs=3, batch_size=20)
    bp_eager = backprop.train_bp(bp, x, y, C)
    bp_compiled = backprop.train_bp(dataclasses.replace(bp, compile="inductor"), x, y, C)
    torch.testing.assert_close(
        bp_compiled.losses["train"], bp_eager.losses["train"], rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("hidden", [(H,), (H, 8, 6)])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_ff_executed_flops_match_flop_counter(
    data: tuple[Tensor, Tensor], hidden: tuple[int, ...], batch_size: int | None
) -> None:
    x, y = data
    recipe = FFRecipe(name="t", hidden=hidden, epochs=3, batch_size=batch_size)
    with FlopCounterMode(display=False) as counter:
        ff.train_ff(recipe, x, y, C)
    assert counter.get_total_flops() == sum(recipe.executed_flops(N, INFO).values())
    model = recipe.flops(N, INFO).train
    assert sum(recipe.executed_flops(N, INFO).values()) < model  # the fast path skips work


def test_bp_executed_flops_match_flop_counter(data: tuple[Tensor, Tensor]) -> None:
    x, y = data
    recipe = BPRecipe(name="t", hidden=(H, 8), epochs=2, batch_size=20)
    with FlopCounterMode(display=False) as counter:
        backprop.train_bp(recipe, x, y, C)
    assert (
        counter.get_total_flops()
        == sum(recipe.executed_flops(N, INFO).values())
        == recipe.flops(N, INFO).train
    )


@pytest.mark.parametrize(("module", "phase"), [(ff_head, "head"), (ff_finetune, "finetune")])
def test_a_hybrids_backprop_phase_runs_in_the_recipes_precision_scope(
    module: types.ModuleType,
    phase: str,
    data: tuple[Tensor, Tensor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the head (ff_head) and the fine-tuning (ff_finetune) must run under the same TF32/cuDNN
    # flags as the FF layers: on a GPU, fp32 outside the scope would silently use TF32
    x, y = data
    inside: list[str] = []
    scoped: list[str] = []

    @contextlib.contextmanager
    def scope(precision: str, device: torch.device) -> Iterator[None]:
        inside.append(precision)
        try:
            yield
        finally:
            inside.pop()

    real = module.train_phase

    def train_phase(p: Phase, *args: object) -> object:
        scoped.append(f"{p.name}:{','.join(inside)}")
        return real(p, *args)

    monkeypatch.setattr(module, "precision_scope", scope)
    monkeypatch.setattr(module, "train_phase", train_phase)
    recipe = dataclasses.replace(module.RECIPES["tiny"], hidden=(H, 8), train_size=None)
    info = dataclasses.replace(INFO, train_size=N)
    split = Split(x, y, None)
    loaded = LoadedDataset(info, split, split, Path(), 0.0, "cache")
    module.METHOD.fit(recipe, loaded, NullObserver())
    assert scoped == [f"{phase}:fp32"]


def test_one_side_stream_per_device_made_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from ff_algos.methods.common import compiled

    made: list[torch.device] = []

    class FakeStream:
        def __init__(self, device: torch.device) -> None:
            made.append(device)

    monkeypatch.setattr(compiled, "_SIDE_STREAMS", {})
    monkeypatch.setattr(torch.cuda, "Stream", FakeStream)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    first = compiled.side_stream(torch.device("cuda", 1))
    assert compiled.side_stream(torch.device("cuda", 1)) is first  # reused: no creeping pools
    assert compiled.side_stream(torch.device("cuda")) is first  # bare cuda: the current one
    other = compiled.side_stream(torch.device("cuda", 0))
    assert other is not first
    assert made == [torch.device("cuda", 1), torch.device("cuda", 0)]

"""ff_strong: the step's objective and gradients against a plain float64 reference written here,
layer locality, determinism, executed FLOPs against FlopCounterMode, validation, learning."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from ff_algos.data import DatasetInfo
from ff_algos.errors import RecipeError
from ff_algos.methods import ff_strong as fs
from ff_algos.methods.common.compiled import Compile
from ff_algos.methods.common.goodness import rms_normalise
from ff_algos.methods.common.loop import lr_factor
from ff_algos.suite.overrides import _parse

N, D, C = 48, 30, 5
CPU = torch.device("cpu")
INFO = DatasetInfo("blobs", "Blobs", C, (1, 5, 6), (0.0,), (1.0,), N, N)  # D = 30 entries
F64 = torch.float64


def normalised(v: Tensor) -> Tensor:
    """Rows divided by their root mean square (eps 1e-12 inside the root)."""
    return v / torch.sqrt(torch.mean(v * v, dim=1, keepdim=True) + 1e-12)


# ---- the plain reference, float64 ---------------------------------------------------------


def ref_forward(layer: nn.Linear, u: Tensor) -> Tensor:
    """relu(W u + b) with the straight-through gradient, written as a detach trick."""
    z = u @ layer.weight.T + layer.bias
    return z + (torch.relu(z) - z).detach()


def ref_objective(
    recipe: fs.StrongFFRecipe,
    net: fs.StrongFFNet,
    x: Tensor,
    y: Tensor,
    noise: Tensor,
    running: list[Tensor],
) -> tuple[Tensor, list[Tensor], Tensor, list[Tensor]]:
    """The step's objective written plainly: positive, negative and neutral inputs built in
    full (label entries appended), every layer on its detached normalised input, BCE with
    logits against explicit targets. Returns (objective, per-layer BCE, head CE, the new running
    means)."""
    layers = net.linear_layers()
    v = recipe.label_value
    x_hat = normalised(x)
    m = x.shape[0]
    neutral = torch.cat([x_hat, torch.full((m, C), v / C, dtype=x.dtype)], 1)
    feats = []
    u = neutral
    for k, layer in enumerate(layers, start=1):
        h = torch.relu(u @ layer.weight.T + layer.bias)
        u = normalised(h).detach()
        if k >= recipe.head_from:
            feats.append(u)
    logits = torch.cat(feats, 1) @ net.head.weight.T + net.head.bias
    head_ce = F.cross_entropy(logits, y)
    scores = -torch.log(noise) + (logits.detach() if recipe.negatives == "hard" else 0.0)
    scores[torch.arange(m), y] = -math.inf
    y_neg = scores.argmax(1)
    u_pos = torch.cat([x_hat, v * F.one_hot(y, C).to(x.dtype)], 1)
    u_neg = torch.cat([x_hat, v * F.one_hot(y_neg, C).to(x.dtype)], 1)
    objective = head_ce
    bces = []
    new_running = []
    for k, layer in enumerate(layers):
        h_pos, h_neg = ref_forward(layer, u_pos), ref_forward(layer, u_neg)
        width = layer.out_features
        mean_sq = torch.cat([h_pos.pow(2).sum(1), h_neg.pow(2).sum(1)]) / width
        logit = (mean_sq - recipe.threshold) / recipe.temperature
        target = torch.cat([torch.ones(m, dtype=x.dtype), torch.zeros(m, dtype=x.dtype)])
        bce = F.binary_cross_entropy_with_logits(logit, target)
        r = recipe.peer_momentum * running[k] + (1 - recipe.peer_momentum) * h_pos.mean(0)
        peer = recipe.peer_norm * ((r.mean() - r) ** 2).mean()
        objective = objective + bce + peer
        bces.append(bce)
        new_running.append(r.detach())
        u_pos = normalised(h_pos).detach()
        u_neg = normalised(h_neg).detach()
    return objective, bces, head_ce, new_running


def small_net(recipe: fs.StrongFFRecipe, seed: int = 0) -> tuple[fs.StrongFFNet, list[Tensor]]:
    """A float64 net with a random (not zero) head and random running means."""
    net = fs.build_net(recipe, D, C, CPU).double()
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        net.head.weight.copy_(torch.randn(net.head.weight.shape, generator=gen, dtype=F64))
    running = [torch.rand(w, generator=gen, dtype=F64) for w in recipe.hidden]
    return net, running


def batch(seed: int = 3) -> tuple[Tensor, Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(N, D, generator=gen, dtype=F64)
    y = torch.randint(0, C, (N,), generator=gen)
    noise = torch.empty(N, C, dtype=F64).exponential_(generator=gen)
    return x, y, noise


def blobs(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """A separable problem: C well-separated Gaussian clusters in D dimensions."""
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(C, D, generator=torch.Generator().manual_seed(42)) * 2
    y = torch.randint(0, C, (n,), generator=gen)
    return centers[y] + torch.randn(n, D, generator=gen), y


RECIPE = fs.StrongFFRecipe(
    name="t", hidden=(16, 12, 8), epochs=2, batch_size=20, threshold=0.7, temperature=0.3
)


# ---- the step against the reference --------------------------------------------------------


@pytest.mark.parametrize("negatives", ["random", "hard"])
@pytest.mark.parametrize("head_from", [1, 2])
def test_step_objective_and_gradients_match_reference(negatives: str, head_from: int) -> None:
    recipe = dataclasses.replace(
        RECIPE, negatives=typing.cast(fs.Negatives, negatives), head_from=head_from
    )
    x, y, noise = batch()
    net, running = small_net(recipe)
    ref_running = [r.clone() for r in running]
    step = fs.make_step_loss(recipe, net, running, None)
    objective, logged = step(rms_normalise(x), y, -noise.log())
    params = list(net.parameters())
    grads = torch.autograd.grad(objective, params)

    ref_net, _ = small_net(recipe)
    ref_obj, bces, head_ce, ref_new = ref_objective(recipe, ref_net, x, y, noise, ref_running)
    ref_grads = torch.autograd.grad(ref_obj, list(ref_net.parameters()))

    torch.testing.assert_close(objective, ref_obj, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(logged, torch.stack([*bces, head_ce]).detach())
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    for got_r, want_r in zip(running, ref_new, strict=True):  # updated in place
        torch.testing.assert_close(got_r, want_r)
    assert all(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("goodness_from", [1, 2, 3])
def test_goodness_per_label_matches_reference(goodness_from: int) -> None:
    recipe = dataclasses.replace(RECIPE, goodness_from=goodness_from)
    x, _, _ = batch()
    net, _ = small_net(recipe)
    x_hat = normalised(x)
    want = torch.zeros(N, C, dtype=F64)
    for c in range(C):
        label = torch.zeros(N, C, dtype=F64)
        label[:, c] = recipe.label_value
        u = torch.cat([x_hat, label], 1)
        for k, layer in enumerate(net.linear_layers(), start=1):
            h = torch.relu(u @ layer.weight.T + layer.bias)
            if k >= goodness_from:
                want[:, c] += h.pow(2).sum(1)
            u = normalised(h)
    torch.testing.assert_close(net.goodness_per_label(x), want.detach())
    torch.testing.assert_close(net.predict(x), want.argmax(1))


def test_relu_pass_through_gradient_is_identity() -> None:
    z = torch.tensor([-2.0, -0.5, 0.0, 1.5], dtype=F64, requires_grad=True)
    out = fs.relu_pass_through(z)
    assert torch.equal(out, torch.relu(z))
    (grad,) = torch.autograd.grad(out.sum(), [z])
    assert torch.equal(grad, torch.ones_like(z))


def test_wrong_labels_never_the_true_label_and_follow_scores() -> None:
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, C, (4000,), generator=gen)
    noise = torch.empty(4000, C).exponential_(generator=gen)
    gumbel = -noise.log()
    uniform = fs.wrong_labels(y, gumbel, None)
    assert not bool((uniform == y).any())
    counts = torch.bincount((uniform - y) % C, minlength=C)[1:].float()
    assert float(counts.min() / counts.max()) > 0.8  # about uniform over the C-1 wrong classes
    logits = torch.zeros(4000, C)
    logits[:, 0] = 10.0  # class 0 is by far the head's favourite
    hard = fs.wrong_labels(y, gumbel, logits)
    assert not bool((hard == y).any())
    assert float((hard[y != 0] == 0).float().mean()) > 0.99


# ---- locality --------------------------------------------------------------------------------


def test_no_gradient_crosses_a_layer() -> None:
    x, y, _ = batch()
    net, running = small_net(RECIPE)
    image = net.image_part(rms_normalise(x))
    pair = torch.stack([y, (y + 1) % C])
    bces, peers = fs.layer_losses(net, image, pair, fs.LocalLoss.of(RECIPE), running)
    layers = net.linear_layers()
    for k, (bce, peer) in enumerate(zip(bces, peers, strict=True)):
        for j, layer in enumerate(layers):
            grads = torch.autograd.grad(
                bce + peer, list(layer.parameters()), retain_graph=True, allow_unused=True
            )
            if j == k:
                assert all(g is not None and g.abs().sum() > 0 for g in grads)
            else:
                reached = [g for g in grads if g is not None and bool(g.ne(0).any())]
                assert not reached, f"layer {k + 1}'s loss reached layer {j + 1}"
        head = torch.autograd.grad(
            bce + peer, list(net.head.parameters()), retain_graph=True, allow_unused=True
        )
        assert all(g is None or not bool(g.ne(0).any()) for g in head)


# ---- training: determinism, FLOPs, options, learning -----------------------------------------


def test_same_seed_same_weights_on_cpu() -> None:
    x, y = blobs(100, 1)
    recipe = dataclasses.replace(fs.TINY, epochs=2)
    a = fs.train_strong(recipe, x, y, C)
    b = fs.train_strong(recipe, x, y, C)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert a.losses == b.losses
    c = fs.train_strong(dataclasses.replace(recipe, seed=1), x, y, C)
    assert not torch.equal(a.model.head.weight, c.model.head.weight)


@pytest.mark.parametrize(
    ("hidden", "head_from", "batch_size"),
    [((16, 12, 8), 2, 20), ((10,), 1, None), ((8, 8), 1, 7)],
)
def test_executed_flops_match_flop_counter(
    hidden: tuple[int, ...], head_from: int, batch_size: int | None
) -> None:
    x, y = blobs(N, 2)
    recipe = dataclasses.replace(
        RECIPE, hidden=hidden, head_from=head_from, goodness_from=1, batch_size=batch_size
    )
    with FlopCounterMode(display=False) as counter:
        fs.train_strong(recipe, x, y, C)
    executed = recipe.executed_flops(N, INFO)["train"]
    assert counter.get_total_flops() == executed
    assert executed < recipe.flops(N, INFO).train  # the shared image product saves work


def test_model_flops_by_hand() -> None:
    recipe = dataclasses.replace(RECIPE, hidden=(16, 8), head_from=2, epochs=3)
    p = (D + C) * 16 + 16 * 8
    head = 2 * 8 * C
    flops = recipe.flops(N, INFO)
    assert flops.forward == 3 * N * (6 * p + head)
    assert flops.backward == 3 * N * (4 * p + head)
    assert flops.predict_for(10) == 10 * C * 2 * p


def test_losses_options_and_observer() -> None:
    x, y = blobs(64, 3)
    events: list[tuple[str, int]] = []

    class Recorder:
        def phase_start(self, name: str, epochs: int) -> None:
            events.append((name, epochs))

        def epoch_end(self, epoch: int) -> None:
            events.append(("epoch", epoch))

        def phase_end(self) -> None:
            events.append(("end", -1))

    recipe = dataclasses.replace(fs.TINY, epochs=3, hidden=(8, 8, 8))
    out = fs.train_strong(recipe, x, y, C, Recorder())
    assert events == [("train", 3), ("epoch", 0), ("epoch", 1), ("epoch", 2), ("end", -1)]
    assert list(out.losses) == ["layer1", "layer2", "layer3", "head"]
    assert all(len(v) == 3 and all(math.isfinite(e) for e in v) for v in out.losses.values())
    assert out.options["product_dtype"] == "float32"
    assert out.options["negatives"] == recipe.negatives


def test_bf16_products_train_on_cpu() -> None:
    x, y = blobs(64, 4)
    recipe = dataclasses.replace(fs.TINY, epochs=2, precision="bf16")
    out = fs.train_strong(recipe, x, y, C)
    assert out.options["product_dtype"] == "bfloat16"
    assert all(p.dtype == torch.float32 for p in out.model.parameters())
    assert all(math.isfinite(v[-1]) for v in out.losses.values())


def test_tiny_recipe_learns_a_separable_problem() -> None:
    x, y = blobs(fs.TINY.train_size or 512, 5)
    x_test, y_test = blobs(400, 6)
    model = fs.train_strong(fs.TINY, x, y, C).model
    goodness = float((model.predict(x_test) == y_test).float().mean())
    head = float((model.predict_head(x_test) == y_test).float().mean())
    assert goodness > 0.9, goodness  # chance is 0.2
    assert head > 0.9, head
    assert torch.equal(model.head_classifier().predict(x_test), model.predict_head(x_test))


def test_prediction_does_not_depend_on_chunking() -> None:
    x, y = blobs(64, 7)
    model = fs.train_strong(dataclasses.replace(fs.TINY, epochs=1), x, y, C).model
    whole = model.goodness_per_label(x)
    model.predict_batch_size = 9
    torch.testing.assert_close(model.goodness_per_label(x), whole)
    assert model.predict(x).dtype == torch.int64
    assert model.predict(x[:0]).shape == (0,)
    assert model.predict_head(x[:0]).shape == (0,)


def test_cooldown_schedule() -> None:
    factors = [lr_factor("cooldown", e, 10) for e in range(10)]
    assert factors[:5] == [1.0] * 5
    assert factors[5:] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])
    assert {lr_factor("constant", e, 10) for e in range(10)} == {1.0}


# ---- recipes and validation ------------------------------------------------------------------


def test_named_recipes_are_valid_and_every_field_parses() -> None:
    hints = typing.get_type_hints(fs.StrongFFRecipe)
    for name, recipe in fs.RECIPES.items():
        assert recipe.name == name
        fs.validate_strong(recipe, 784, 10)
        for field in dataclasses.fields(recipe):
            value = getattr(recipe, field.name)
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            assert _parse(text, hints[field.name]) == value, field.name
    assert fs.StrongFFRecipe.method == "ff_strong"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"hidden": ()}, "at least one layer"),
        ({"hidden": (10, 0)}, "at least one layer"),
        ({"epochs": 0}, "epochs=0"),
        ({"lr": 0.0}, "lr=0.0"),
        ({"head_lr": -1.0}, "head_lr"),
        ({"lr": math.nan}, "lr=nan"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"train_size": 0}, "train_size=0"),
        ({"temperature": 0.0}, "temperature"),
        ({"threshold": -1.0}, "threshold"),
        ({"label_value": 0.0}, "label_value"),
        ({"peer_norm": -0.1}, "peer_norm"),
        ({"weight_decay": math.inf}, "weight_decay"),
        ({"peer_momentum": 1.0}, "peer_momentum"),
        ({"goodness_from": 4}, "goodness_from=4"),
        ({"head_from": 0}, "head_from=0"),
        ({"predict_batch_size": 0}, "predict_batch_size"),
        ({"negatives": "permute"}, "negatives='permute'"),
        ({"schedule": "cosine"}, "schedule='cosine'"),
        ({"precision": "fp16"}, "precision='fp16'"),
        ({"compile": "jit"}, "compile='jit'"),
    ],
)
def test_validation_rejects_impossible_values(changes: dict[str, object], fragment: str) -> None:
    recipe = dataclasses.replace(RECIPE, **changes)  # type: ignore[arg-type]
    with pytest.raises(RecipeError, match=fragment.replace("(", r"\(")) as info:
        fs.validate_strong(recipe, D, C)
    assert "\n" not in str(info.value)


def test_validation_of_data_shape() -> None:
    with pytest.raises(RecipeError, match="at least 2 classes"):
        fs.validate_strong(RECIPE, D, 1)
    x, y = blobs(8, 0)
    with pytest.raises(RecipeError, match="epochs=0"):
        fs.train_strong(dataclasses.replace(RECIPE, epochs=0), x, y, C)


@pytest.mark.slow
def test_inductor_trains_like_eager() -> None:
    x, y = blobs(60, 8)
    recipe = dataclasses.replace(fs.TINY, epochs=2, batch_size=25)
    eager = fs.train_strong(recipe, x, y, C)
    compiled = fs.train_strong(dataclasses.replace(recipe, compile="inductor"), x, y, C)
    assert compiled.options["compiled"] is True
    # Adam turns rounding-level gradient differences (fused kernels) into steps of about lr where
    # a gradient is near zero, so weights agree to a few lr; the losses agree closely
    for phase, losses in eager.losses.items():
        torch.testing.assert_close(compiled.losses[phase], losses, rtol=2e-2, atol=1e-3)
    for a, b in zip(eager.model.parameters(), compiled.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0.0, atol=3 * recipe.lr)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mode", ["none", "cudagraphs"])
def test_cuda_graphs_train_like_eager(mode: str) -> None:
    device = torch.device("cuda")
    x, y = blobs(60, 8)
    recipe = dataclasses.replace(fs.TINY, epochs=3, batch_size=25)
    eager = fs.train_strong(recipe, x.to(device), y.to(device), C)
    other = fs.train_strong(
        dataclasses.replace(recipe, compile=typing.cast(Compile, mode)),
        x.to(device),
        y.to(device),
        C,
    )
    for a, b in zip(eager.model.parameters(), other.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)

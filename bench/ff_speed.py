"""Forward-Forward speed: FF's fast path (``ff_algos.methods.common.overlay``) against the plain
reference of the same recipe (``ff_algos.methods.common.reference``).

The plain implementation below has the reference code's structure
(mpezeshki/pytorch_forward_forward): separate positive and negative passes, every layer
re-normalising its input on every epoch, autograd, and prediction by ``C`` full forward passes
(one per candidate label). Both start from the same initial weights, negative labels and batch
order, so they compute the same function up to rounding.

Measured side by side in one process, on real MNIST (784-500-500) unless noted:

1. layer 1's full-batch training epoch (target: fast >= 1.5x plain);
2. whole FF training, ``--epochs`` full-batch epochs per layer on ``--train-size`` rows
   (target >= 1.25x);
3. prediction of the 10000 MNIST test rows, 10 classes (target >= 1.8x); and of
   ``--predict-rows-100`` random rows of CIFAR100's shape (3072 inputs, 100 classes, target >= 5x);
4. test accuracy after training both with the ``quick`` recipe and the same seed (target: within
   0.5 points).

Warm-up runs are excluded; every time is the median of ``--repeats`` runs (perf_counter, the
device synchronised at both ends; epoch times from ``ff_algos.telemetry.EpochClock``: CUDA events
on a GPU). Run from the repository root:

    python bench/ff_speed.py [--data-root ROOT]      # root: default as for load_dataset
    python bench/ff_speed.py --train-size 20000 --epochs 3 --repeats 3   # shorter

This file is a script, not a pytest module.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import torch
from torch import Tensor, nn

from ff_algos import registry
from ff_algos.data import load_dataset
from ff_algos.method import NullObserver
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.overlay import FFNet, FFRecipe, train_ff
from ff_algos.methods.common.reference import plain_predict, plain_train
from ff_algos.telemetry import EpochClock
from ff_algos.telemetry.sync import synchronize

T = TypeVar("T")

# ---- timing ------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    plain: float
    fast: float
    target: float
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.plain / self.fast

    @property
    def ok(self) -> bool:
        return self.ratio >= self.target


def timed(fn: Callable[[], T], device: torch.device) -> tuple[float, T]:
    """Seconds ``fn`` takes, the device synchronised at both ends, and what it returned."""
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    return time.perf_counter() - start, out


def layer1_epochs(clock: EpochClock, epochs: int) -> tuple[float, ...]:
    """Layer 1's epoch times; the first also holds one-off work (input preparation, allocator
    warm-up), so it is left out when there are others."""
    times = clock.result().per_epoch["layer1"]
    return times[1:] if epochs > 1 else times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="dataset root (default: $FF_BENCH_DATA)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train-size", type=int, default=60000, help="rows for timings 1-2")
    parser.add_argument("--epochs", type=int, default=5, help="full-batch epochs per layer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--predict-rows-100", type=int, default=1000)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args(argv)
    device = torch.device(args.device)

    data = load_dataset("mnist", device=device, root=args.data_root)
    c = data.info.num_classes
    train = data.train.subset(args.train_size, 0)
    recipe = FFRecipe(name="speed", epochs=args.epochs, batch_size=None)
    print(
        f"ff_speed: torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"MNIST 784-500-500, {len(train)} rows full batch, {args.epochs} epochs per layer, "
        f"{args.repeats} repeats (median), warm-up excluded",
        flush=True,
    )

    # warm-up: one short run of each
    short = dataclasses.replace(recipe, epochs=1)
    train_ff(short, train.x[:2000], train.y[:2000], c)
    plain_train(short, train.x[:2000], train.y[:2000], c, NullObserver())

    e = args.epochs
    whole: dict[str, list[float]] = {"plain": [], "fast": []}
    layer1: dict[str, list[float]] = {"plain": [], "fast": []}
    models: dict[str, list[nn.Linear]] = {}
    train_xy = (train.x, train.y)
    for _ in range(args.repeats):
        clock = EpochClock(device)
        seconds, models["plain"] = timed(partial(plain_train, recipe, *train_xy, c, clock), device)
        whole["plain"].append(seconds)
        layer1["plain"] += layer1_epochs(clock, e)

        clock = EpochClock(device)
        seconds, fast = timed(partial(train_ff, recipe, *train_xy, c, clock), device)
        whole["fast"].append(seconds)
        layer1["fast"] += layer1_epochs(clock, e)
        models["fast"] = fast.model.linear_layers()
        print(
            f"  repeat: plain {whole['plain'][-1]:.2f} s, fast {whole['fast'][-1]:.2f} s",
            flush=True,
        )

    rows = [
        Row(
            "layer-1 training epoch",
            statistics.median(layer1["plain"]),
            statistics.median(layer1["fast"]),
            1.5,
        ),
        Row(
            f"whole FF training ({e}+{e} epochs)",
            statistics.median(whole["plain"]),
            statistics.median(whole["fast"]),
            1.25,
        ),
    ]

    # prediction, 10 classes: MNIST test with the trained weights
    net = FFNet(models["fast"], c, "mean")
    x_test = data.test.x
    plain_layers = models["fast"]
    rows.append(
        _predict_row(
            "predict MNIST test (10 classes)",
            net,
            plain_layers,
            x_test,
            c,
            1.8,
            args.repeats,
            device,
        )
    )

    # prediction, 100 classes: random data of CIFAR100's shape
    gen = torch.Generator().manual_seed(0)
    x100 = torch.randn(args.predict_rows_100, 3072, generator=gen).to(device)
    layers100 = [seeded_linear(3072, 500, gen, device), seeded_linear(500, 500, gen, device)]
    net100 = FFNet(layers100, 100, "mean")
    rows.append(
        _predict_row(
            f"predict {args.predict_rows_100} rows, 3072-500-500, 100 classes",
            net100,
            layers100,
            x100,
            100,
            5.0,
            args.repeats,
            device,
        )
    )

    print()
    print(f"{'measure':<52} {'plain':>9} {'fast':>9} {'ratio':>7} {'target':>7}  ok")
    for r in rows:
        print(
            f"{r.name:<52} {r.plain:>8.3f}s {r.fast:>8.3f}s {r.ratio:>6.2f}x "
            f"{r.target:>6.2f}x  {'yes' if r.ok else 'NO'}"
        )
    ok = all(r.ok for r in rows)

    if not args.skip_accuracy:
        quick = registry.recipe("ff", "quick")
        assert isinstance(quick, FFRecipe)
        sub = data.train.subset(quick.train_size, quick.seed)
        fast_q = train_ff(quick, sub.x, sub.y, c)
        plain_q = plain_train(quick, sub.x, sub.y, c, NullObserver())
        y_test = data.test.y
        acc_fast = float((fast_q.model.predict(x_test) == y_test).double().mean())
        acc_plain = float(
            (plain_predict(plain_q, x_test, c, quick.goodness) == y_test).double().mean()
        )
        diff = abs(acc_fast - acc_plain) * 100
        print(
            f"accuracy, quick recipe (seed {quick.seed}, {quick.train_size} rows, "
            f"{quick.epochs} epochs, batch {quick.batch_size}): "
            f"plain {acc_plain:.4f}, fast {acc_fast:.4f}, "
            f"difference {diff:.2f} points (target <= 0.5)  {'yes' if diff <= 0.5 else 'NO'}"
        )
        ok = ok and diff <= 0.5
    return 0 if ok else 1


def _predict_row(
    name: str,
    net: FFNet,
    layers: list[nn.Linear],
    x: Tensor,
    c: int,
    target: float,
    repeats: int,
    device: torch.device,
) -> Row:
    fast_pred = net.predict(x)  # warm-up, and the agreement check below
    plain_pred = plain_predict(layers, x, c, "mean")
    agree = float((fast_pred == plain_pred).double().mean())
    if agree < 0.999:
        print(f"  warning: {name}: fast and plain predictions agree on only {agree:.4f}")
    plain = partial(plain_predict, layers, x, c, "mean")
    plain_t = [timed(plain, device)[0] for _ in range(repeats)]
    fast_t = [timed(partial(net.predict, x), device)[0] for _ in range(repeats)]
    return Row(name, statistics.median(plain_t), statistics.median(fast_t), target)


if __name__ == "__main__":
    sys.exit(main())

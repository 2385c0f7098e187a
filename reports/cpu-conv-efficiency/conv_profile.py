"""Profile ff_conv's together training (the full-budget recipe's step) on one thread: the top
operators of a few hundred steps, the achieved FLOP rate of the plain algorithm's model FLOPs and
of the executed FLOPs, and the one-thread matmul peak measured in the same process. The
machine is shared: the best of ``--repeats`` trainings counts, and the load average is printed.

    OMP_NUM_THREADS=1 python reports/cpu-conv-efficiency/conv_profile.py [--rows N] [--set k=v ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time

import torch
from torch.profiler import ProfilerActivity, profile

from ff_algos.data import load_dataset
from ff_algos.methods.ff_conv import SEED, train_conv_ff
from ff_algos.suite.overrides import apply_overrides
from ff_algos.telemetry.peak_flops import measure_peak_flops


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--top", type=int, default=18)
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="timed trainings; the best counts")
    args = ap.parse_args()
    torch.set_num_threads(1)
    base = dataclasses.replace(
        SEED, training="together", shift=2, epochs=1, goodness_from=3, head_epochs=0
    )
    recipe = apply_overrides(base, dict(kv.split("=", 1) for kv in args.set))
    recipe = dataclasses.replace(recipe, train_size=args.rows)
    data = load_dataset(args.dataset, device="cpu")
    x, y = data.train.x[: args.rows], data.train.y[: args.rows]
    train_conv_ff(dataclasses.replace(recipe, train_size=300), x[:300], y[:300], data.info)  # warm
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fitted = train_conv_ff(recipe, x, y, data.info)
        times.append(time.perf_counter() - t0)
    seconds = min(times)
    model = recipe.flops(args.rows, data.info)
    executed = sum(recipe.executed_flops(args.rows, data.info).values())
    peak = measure_peak_flops(torch.device("cpu"))
    out = {
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "recipe": {k: v for k, v in dataclasses.asdict(recipe).items()},
        "rows": args.rows,
        "seconds": seconds,
        "seconds_all": times,
        "load_average": os.getloadavg(),
        "model_gflop": (model.forward + model.backward) / 1e9,
        "executed_gflop": executed / 1e9,
        "model_rate_gflops": (model.forward + model.backward) / seconds / 1e9,
        "peak_gflops": peak.flops_per_s / 1e9,
        "utilisation_model": (model.forward + model.backward) / seconds / peak.flops_per_s,
        "loss": fitted.losses["train"],
    }
    print(json.dumps(out, indent=1, default=str))
    if args.no_profile:
        return
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_conv_ff(recipe, x, y, data.info)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))


if __name__ == "__main__":
    main()

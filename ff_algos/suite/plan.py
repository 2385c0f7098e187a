"""What a session will run and roughly how long it will take: the line printed when collection
ends, and "case N of M, about T left" as each case starts.

A case's estimate is its executed training FLOPs (the method's own count, so it follows the
recipe, ``--set``, ``--grid`` and the dataset) over the rate a whole case of that method reached
on the project's 2-core CPU (:data:`CPU_2CORE_GFLOPS`: the saved ``quick`` runs under
``reports/cpu-2core-*``, executed FLOPs over the timed run; :data:`CPU_2CORE_RECIPE_GFLOPS` for
named recipes whose shapes run at another rate), plus a fixed overhead per case
(warm-up, held-memory probe, data, scoring). Once cases finish, the remaining estimate is scaled
by how long the finished ones took against their estimates, so it adapts to the machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ff_algos import registry
from ff_algos.data import dataset_info
from ff_algos.data.catalog import DatasetInfo

# Executed GFLOP/s of a whole quick case on the 2-core AMD EPYC CPU the reports were measured on
# (ff, bp: reports/cpu-2core-quick; ff_head, ff_finetune: cpu-2core-hybrids-quick; conv:
# cpu-2core-conv/quick; attention: cpu-2core-attn; ff_strong: its docstring's 24 s). ff_group's
# quick case was never timed on an idle machine: it is a plain MLP like bp and takes bp's rate.
CPU_2CORE_GFLOPS: dict[str, float] = {
    "ff": 66.0,
    "bp": 55.0,
    "ff_head": 60.0,
    "ff_finetune": 72.0,
    "ff_strong": 58.0,
    "ff_group": 55.0,
    "ff_conv": 2.3,
    "bp_conv": 3.7,
    "ff_attn": 6.9,
    "bp_attn": 8.6,
}
# Where a method's rate depends on its recipe's shapes (narrow quick convolutions run far below
# wide seed ones), the rate of that named recipe's whole case, measured on the project's 2-core
# CPU under load: the full-budget runs under reports/cpu-2core-full-budget (executed FLOPs over
# training seconds). A recipe changed by --set keeps its name's rate.
CPU_2CORE_RECIPE_GFLOPS: dict[tuple[str, str], float] = {
    ("ff_conv", "seed"): 16.8,  # MNIST, together, 20 epochs: 59.4 TFLOP in 3531 s
    ("ff_attn", "seed"): 26.0,  # MNIST, whole split: 18.5 TFLOP in 714 s
    ("bp_attn", "seed"): 30.3,  # MNIST, whole split: 18.8 TFLOP in 621 s
    # the Intel Xeon 2-core CPU of a later session (three runs on two cores), shift 2, 20 epochs:
    ("bp_conv", "seed"): 45.5,  # MNIST: 85.6 TFLOP in 1882 s
}
OTHER_GFLOPS = 10.0  # a method the table does not know (--method-module)
CASE_OVERHEAD_S = 3.0  # warm-up, held-memory probe, data, scoring, per case
SCALING_CASE_S = 3.0  # one scaling configuration at the quick sizes
SESSION_OVERHEAD_S = 15.0  # imports and the matmul peak, once


def fit_estimate(recipe: Any, info: DatasetInfo) -> float:
    """Seconds one ``test_fit`` case of ``recipe`` on ``info`` takes on a 2-core CPU, roughly."""
    method = registry.get(recipe.method)
    train_size = getattr(recipe, "train_size", None)
    rows = info.train_size if train_size is None else min(train_size, info.train_size)
    executed = sum(method.executed_flops(recipe, rows, info).values())
    return CASE_OVERHEAD_S + executed / (rate_gflops(recipe) * 1e9)


def rate_gflops(recipe: Any) -> float:
    """The measured executed GFLOP/s that a case of ``recipe`` is estimated by: its named
    recipe's where one was measured, else its method's."""
    known = CPU_2CORE_RECIPE_GFLOPS.get((recipe.method, getattr(recipe, "name", "")))
    return known if known is not None else CPU_2CORE_GFLOPS.get(recipe.method, OTHER_GFLOPS)


def dataset_estimate(recipe: Any, dataset: str) -> float:
    """:func:`fit_estimate` by dataset name."""
    return fit_estimate(recipe, dataset_info(dataset))


def about(seconds: float) -> str:
    """``about 40 s``, ``about 3 min``, ``about 1.5 h``."""
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60):.0f} min"
    return f"about {seconds / 3600:.1f} h"


@dataclass
class Plan:
    """The session's cases in order (``{nodeid: (label, estimated seconds)}``), and what has
    finished."""

    cases: dict[str, tuple[str, float]]
    finished: dict[str, float] = field(default_factory=dict)  # nodeid -> seconds it took
    clock: Callable[[], float] = time.perf_counter
    _started: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # the first case also pays the session's one-off costs (the matmul peak, first imports)
        for nodeid, (label, estimate) in self.cases.items():
            self.cases[nodeid] = (label, estimate + SESSION_OVERHEAD_S)
            break

    @property
    def total(self) -> float:
        """The whole session's estimate, in seconds."""
        return sum(e for _, e in self.cases.values())

    def start(self, nodeid: str) -> str | None:
        """The progress line for a case that starts (None for a case outside the plan)."""
        if nodeid not in self.cases:
            return None
        self._started[nodeid] = self.clock()
        number = list(self.cases).index(nodeid) + 1
        label, _ = self.cases[nodeid]
        return f"ff-bench: case {number} of {len(self.cases)} ({label}), {about(self.left())} left"

    def finish(self, nodeid: str) -> None:
        """Note that a case ended (passed, failed or skipped inside its body)."""
        started = self._started.pop(nodeid, None)
        if started is not None:
            self.finished[nodeid] = self.clock() - started

    def left(self) -> float:
        """Seconds left, the estimates of unfinished cases scaled by how finished cases did."""
        remaining = sum(e for n, (_, e) in self.cases.items() if n not in self.finished)
        return remaining * self.pace()

    def pace(self) -> float:
        """Seconds the finished cases took per estimated second (1 before any finished)."""
        estimated = sum(self.cases[n][1] for n in self.finished)
        if estimated <= 0:
            return 1.0
        return max(0.1, sum(self.finished.values()) / estimated)


def header(
    *,
    first_look: bool,
    methods: tuple[str, ...],
    recipe_name: str,
    datasets: tuple[str, ...],
    plan: Plan,
) -> list[str]:
    """What the session will run and roughly how long, said when collection ends; for the first
    look, also the flag that runs everything."""
    size = f"{len(plan.cases)} case{'s' if len(plan.cases) != 1 else ''}"
    when = f"{about(plan.total)} on a 2-core CPU (the estimate follows this machine's pace)"
    if not first_look:
        return [f"ff-bench: {size}, {when}"]
    return [
        f"ff-bench first look: {', '.join(methods)} with the {recipe_name} recipe on "
        f"{', '.join(datasets)}: {size}, {when}",
        "ff-bench: the whole matrix (every method, every dataset present, the scaling "
        "benchmark) is `pytest bench/ --methods all`",
    ]

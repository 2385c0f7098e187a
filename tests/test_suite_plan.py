"""The first look (the selection of a session without --methods), ``--methods all``, the
estimate of a session's length, and the overall progress line."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ff_algos import registry
from ff_algos.suite import plan as plan_module
from ff_algos.suite.options import FIRST_LOOK_METHODS, parse_options
from ff_algos.suite.plan import Plan, about, dataset_estimate

BENCH = Path(__file__).resolve().parents[1] / "bench"

pytest_plugins = ["pytester"]


def _options(tmp_path: Path, first_look: bool = False, **given: Any) -> Any:
    raw: dict[str, Any] = {
        "recipe": "quick",
        "datasets": None,
        "methods": None,
        "device": "cpu",
        "data_root": None,
        "seeds": "1",
        "sets": [],
        "rounds": "1",
        "journal": str(tmp_path / "journal.jsonl"),
        "floors": None,
    }
    return parse_options(raw | given, first_look=first_look)


def test_no_methods_is_the_first_look_and_all_is_the_whole_matrix(tmp_path: Path) -> None:
    first = _options(tmp_path, first_look=True)
    assert first.first_look
    assert first.methods == ("ff", "bp", "ff_group") == FIRST_LOOK_METHODS
    assert first.datasets == ("mnist", "fashion_mnist")
    assert not first.datasets_explicit
    named = _options(tmp_path, first_look=True, datasets="cifar10")
    assert (named.methods, named.datasets) == (FIRST_LOOK_METHODS, ("cifar10",))
    every = [m for m in registry.names() if "quick" in registry.get(m).recipes]
    whole = _options(tmp_path, first_look=True, methods="all")
    assert not whole.first_look
    assert whole.methods == tuple(every)
    assert len(whole.methods) == 12
    assert whole.datasets == ("mnist", "fashion_mnist", "cifar10", "cifar100", "svhn")
    # a sweep's sessions (no first look) keep the old default: every method
    assert _options(tmp_path).methods == tuple(every)
    chosen = _options(tmp_path, first_look=True, methods="ff,bp")
    assert (chosen.methods, chosen.first_look) == (("ff", "bp"), False)


def test_estimates_follow_the_flops() -> None:
    ff = registry.recipe("ff", "quick")
    quick = dataset_estimate(ff, "mnist")
    assert dataset_estimate(registry.recipe("bp", "quick"), "mnist") < quick
    assert dataset_estimate(ff, "cifar10") > quick  # 3072 inputs, not 784
    assert dataset_estimate(dataclasses.replace(ff, epochs=ff.epochs * 4), "mnist") > 3 * (
        quick - plan_module.CASE_OVERHEAD_S
    )
    assert about(12) == "about 10 s"
    assert about(150) == "about 2 min"
    assert about(3 * 3600) == "about 3.0 h"


def test_the_estimate_left_follows_the_pace_of_finished_cases(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    monkeypatch.setattr(plan_module, "SESSION_OVERHEAD_S", 0.0)
    plan = Plan({"a": ("a", 60.0), "b": ("b", 60.0), "c": ("c", 120.0)}, clock=lambda: clock[0])
    assert plan.total == 240.0
    assert plan.start("a") == "ff-bench: case 1 of 3 (a), about 4 min left"
    clock[0] = 120.0  # twice as long as estimated
    plan.finish("a")
    assert plan.pace() == pytest.approx(2.0)
    assert plan.start("b") == "ff-bench: case 2 of 3 (b), about 6 min left"  # (60 + 120) x 2
    assert plan.start("elsewhere") is None


def test_a_plain_session_shows_the_first_look_its_estimate_and_progress(
    pytester: pytest.Pytester, real_data_root: Callable[[str], Path]
) -> None:
    for name in ("conftest.py", "test_bench.py", "test_scaling.py", "floors.toml"):
        shutil.copy(BENCH / name, pytester.path / name)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--recipe=tiny",
        "--datasets=mnist",
        f"--data-root={real_data_root('mnist')}",
        "--journal=journal.jsonl",
        "-rs",
        "-v",
    )
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "ff-bench first look: ff, bp, ff_group with the tiny recipe on mnist: 3 cases, "
            "about * on a 2-core CPU (the estimate follows this machine's pace)",
            "ff-bench: the whole matrix (every method, every dataset present, the scaling "
            "benchmark) is `pytest bench/ --methods all`",
            "ff-bench: case 1 of 3 (mnist-ff-seed0), about * left",
            "*test_bench.py::test_fit[[]mnist-ff-seed0[]] PASSED*",
            "ff-bench: case 2 of 3 (mnist-bp-seed0), about * left",
            "*test_bench.py::test_fit[[]mnist-bp-seed0[]] PASSED*",
            "ff-bench: case 3 of 3 (mnist-ff_group-seed0), about * left",
            "*test_bench.py::test_fit[[]mnist-ff_group-seed0[]] PASSED*",
            "*the first look leaves the scaling benchmark out: run it with --methods all*",
        ]
    )


def test_a_named_recipe_with_a_measured_rate_is_estimated_by_it() -> None:
    seed = dataclasses.replace(
        registry.recipe("ff_conv", "seed"), training="together", shift=2, epochs=20
    )
    by_method = dataclasses.replace(seed, name="unnamed")  # falls back to the quick-case rate
    assert dataset_estimate(by_method, "mnist") > 5 * dataset_estimate(seed, "mnist")
    # the full-budget run this rate came from took 3531 s of training
    assert 3000 < dataset_estimate(seed, "mnist") < 4200

"""The saved-run fixtures in tests/fixtures/runs/ follow pytest-benchmark's layout and
ff_algos.schema exactly. They are real runs of the suite on a 2-core CPU:
``pytest bench --recipe quick --datasets mnist,fashion_mnist --benchmark-save=quick-a`` and the
same with ``--set seed=1 --benchmark-save=quick-b``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ff_algos.schema import READABLE_SCHEMAS, validate

RUNS = Path(__file__).parent / "fixtures" / "runs"
ALL_FIXTURES = sorted(RUNS.glob("*/[0-9][0-9][0-9][0-9]_*.json"))
SAVED_RUN_KEYS = {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
BENCH_KEYS = {"group", "name", "fullname", "params", "param", "extra_info", "options", "stats"}
STATS_KEYS = {"min", "max", "mean", "stddev", "rounds", "median", "iqr", "q1", "q3", "ops"}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_there_are_fixtures() -> None:
    assert len(ALL_FIXTURES) >= 2


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_fixture_is_a_saved_run_in_the_schema(path: Path) -> None:
    data = _load(path)
    assert set(data) >= SAVED_RUN_KEYS
    assert isinstance(data["machine_info"].get("ff_bench"), dict)
    assert data["benchmarks"]
    for bench in data["benchmarks"]:
        assert set(bench) >= BENCH_KEYS, bench["name"]
        assert set(bench["stats"]) >= STATS_KEYS
        info = bench["extra_info"]
        assert info["schema"] in READABLE_SCHEMAS
        assert validate(info) == [], bench["name"]
        assert bench["params"]["dataset"] == info["dataset"]
        assert bench["params"]["method"] == info["method"]


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_fixture_covers_both_methods_on_two_datasets(path: Path) -> None:
    cases = {
        (b["extra_info"]["dataset"], b["extra_info"]["method"]) for b in _load(path)["benchmarks"]
    }
    datasets = {d for d, _ in cases}
    assert len(datasets) >= 2
    for dataset in datasets:
        assert {(dataset, "ff"), (dataset, "bp")} <= cases


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_cpu_runs_have_no_power(path: Path) -> None:
    for bench in _load(path)["benchmarks"]:
        info = bench["extra_info"]
        assert info["device"]["type"] == "cpu"
        for field in ("power.mean_w", "power.max_w", "energy.joules"):
            section, key = field.split(".")
            assert info[section][key] is None
            assert info["unavailable"][field]

"""Merging shards' saved runs: one run from disjoint shards, and every conflict named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ff_algos.sweep.errors import SweepError
from ff_algos.sweep.merge import load_source, machine_id, merge, save_merged

MACHINE = "Linux-CPython-3.11-64bit"
CASES = [f"mnist-ff-threshold={t}-seed0" for t in (1, 2, 4)]


def _bench(case: str, **recipe: Any) -> dict[str, Any]:
    threshold = float(case.split("threshold=")[1].split("-")[0])
    full = {"method": "ff", "epochs": 20, "lr": 0.03, "seed": 0, "threshold": threshold} | recipe
    return {
        "name": f"test_fit[{case}]",
        "fullname": f"bench/test_bench.py::test_fit[{case}]",
        "params": {"dataset": "mnist", "method": "ff", "seed": 0},
        "extra_info": {"recipe": full},
        "stats": {"mean": 1.0},
    }


def _run(
    tmp_path: Path,
    shard: str,
    cases: list[str],
    *,
    node: str = "n1",
    commit: str = "abc",
    options: dict[str, Any] | None = None,
    **recipe: Any,
) -> Path:
    data = {
        "machine_info": {"node": node, "ff_bench": {"cpu_model": "EPYC"}},
        "commit_info": {"id": commit, "dirty": False},
        "datetime": "2026-01-01T00:00:00",
        "version": "5.1.0",
        "benchmarks": [_bench(c, **recipe) for c in cases],
        "ff_bench_shard": {
            "shard": shard,
            "cases": CASES,
            "options": options or {"recipe": "quick", "grid": {"threshold": ["1", "2", "4"]}},
        },
    }
    path = tmp_path / f"shard-{shard.replace('/', '-')}" / MACHINE / "0001_s.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path


def test_disjoint_shards_merge_into_one_run_listing_every_machine(tmp_path: Path) -> None:
    a = _run(tmp_path, "1/2", [CASES[0], CASES[2]], node="n1")
    b = _run(tmp_path, "2/2", [CASES[1]], node="n2")
    sources = [load_source(a), load_source(b)]
    merged = merge(sources)
    assert [x["name"] for x in merged["benchmarks"]] == [f"test_fit[{c}]" for c in CASES]
    machines = merged["machine_info"]["ff_bench_machines"]
    assert [(m["node"], m["cases"]) for m in machines] == [("n1", 2), ("n2", 1)]
    assert merged["machine_info"]["node"] == "n1,n2"
    assert "ff_bench_shard" not in merged
    assert merged["ff_bench_merged"]["missing"] == []
    first = save_merged(merged, tmp_path / "store", "sweep", machine_id(sources[0]))
    second = save_merged(merged, tmp_path / "store", "sweep", machine_id(sources[0]))
    assert (first.name, second.name) == ("0001_sweep.json", "0002_sweep.json")
    assert first.parent.name == MACHINE
    assert json.loads(first.read_text())["benchmarks"] == merged["benchmarks"]


def test_missing_cases_are_named(tmp_path: Path) -> None:
    a = _run(tmp_path, "1/2", [CASES[0], CASES[2]])
    with pytest.raises(SweepError, match=r"1 case\(s\) of the sweep are in no run: .*threshold=2"):
        merge([load_source(a)])
    assert merge([load_source(a)], allow_missing=True)["ff_bench_merged"]["missing"] == [CASES[1]]


def test_duplicate_cases_are_named(tmp_path: Path) -> None:
    a = _run(tmp_path, "1/2", CASES[:2])
    b = _run(tmp_path, "2/2", CASES[1:])
    with pytest.raises(
        SweepError, match=r"are in two runs: test_fit\[mnist-ff-threshold=2-seed0\]"
    ):
        merge([load_source(a), load_source(b)])


def test_different_commits_are_refused(tmp_path: Path) -> None:
    a = _run(tmp_path, "1/2", [CASES[0], CASES[2]])
    b = _run(tmp_path, "2/2", [CASES[1]], commit="def")
    with pytest.raises(SweepError, match="different commits"):
        merge([load_source(a), load_source(b)])


def test_different_options_are_refused(tmp_path: Path) -> None:
    a = _run(tmp_path, "1/2", [CASES[0], CASES[2]])
    b = _run(tmp_path, "2/2", [CASES[1]], options={"recipe": "tiny", "grid": {}})
    with pytest.raises(SweepError, match="ran different options"):
        merge([load_source(a), load_source(b)])


def test_a_different_recipe_outside_the_grid_is_refused(tmp_path: Path) -> None:
    a = _run(tmp_path, "1/2", [CASES[0], CASES[2]])
    b = _run(tmp_path, "2/2", [CASES[1]], epochs=5)
    with pytest.raises(SweepError, match=r"different ff recipes \(epochs: 5 vs 20\)"):
        merge([load_source(a), load_source(b)])


def test_a_file_that_is_no_run_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[]")
    with pytest.raises(SweepError, match="not a saved pytest-benchmark run"):
        load_source(path)

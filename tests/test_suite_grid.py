"""Grid expansion, case ids and shard partitioning, without running any case."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ff_algos.suite.grid import CONFIRM_OVER, parse_grid, points
from ff_algos.suite.matrix import case_matrix, shard_cases
from ff_algos.suite.options import OptionError, parse_options
from ff_algos.suite.shard import assign, parse_shard, select


def _parse(**changes: Any) -> Any:
    raw = {"datasets": "mnist", "methods": "ff", "device": "cpu", "journal": "j.jsonl"}
    return parse_options(raw | changes)


def test_grid_is_the_cartesian_product_and_each_id_names_its_values() -> None:
    opts = _parse(grids=("threshold=1/2/4/8", "lr=0.01/0.03/0.1"), seeds="2")
    cases = case_matrix(opts)
    assert len(cases) == opts.case_count == 4 * 3 * 2
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "mnist-ff-threshold=1-lr=0.01-seed0"
    assert ids[-1] == "mnist-ff-threshold=8-lr=0.1-seed1"
    recipes = {(c.id): opts.at(c.point).recipe("ff", c.seed) for c in cases}
    chosen = recipes["mnist-ff-threshold=4-lr=0.03-seed1"]
    assert (chosen.threshold, chosen.lr, chosen.seed, chosen.epochs) == (4.0, 0.03, 1, 20)


def test_commas_stay_inside_a_value() -> None:
    (axis,) = parse_grid(["hidden=500,500/1000,1000,1000"])
    assert axis.values == ("500,500", "1000,1000,1000")
    opts = _parse(grids=("hidden=64,64/32",))
    hidden = [opts.at(p).recipe("ff", 0).hidden for p in points(opts.grid)]
    assert hidden == [(64, 64), (32,)]


def test_no_grid_keeps_the_usual_case_ids() -> None:
    assert [c.id for c in case_matrix(_parse(seeds="2"))] == ["mnist-ff-seed0", "mnist-ff-seed1"]


@pytest.mark.parametrize(
    ("grids", "message"),
    [
        (("threshold",), "expected FIELD=V1/V2"),
        (("threshold=1//2",), "an empty value"),
        (("threshold=1/1",), "given twice"),
        (("lr=0.1", "lr=0.2"), "put all its values in one --grid"),
        (("seed=0/1",), "use --seeds N"),
        (("treshold=1/2",), "unknown recipe field 'treshold'"),
        (("lr=0.1/fast",), "bad value for lr"),
        (("epochs=1/0",), "epochs=0 trains nothing"),
    ],
)
def test_bad_grids_are_one_line_usage_errors(grids: tuple[str, ...], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        _parse(grids=grids)


def test_set_and_grid_of_one_field_clash() -> None:
    with pytest.raises(OptionError, match="--set and --grid both give lr"):
        _parse(sets=["lr=0.1"], grids=("lr=0.01/0.1",))


def test_a_large_grid_asks_for_yes() -> None:
    values = "/".join(str(v) for v in range(1, CONFIRM_OVER + 2))
    with pytest.raises(OptionError, match=r"expands to \d+ cases .*add --yes"):
        _parse(grids=(f"threshold={values}",))
    assert _parse(grids=(f"threshold={values}",), yes=True).case_count == CONFIRM_OVER + 1


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 24, 30])
def test_shards_are_disjoint_complete_and_balanced(count: int) -> None:
    opts = _parse(grids=("threshold=1/2/4/8", "lr=0.01/0.03/0.1"), seeds="2", methods="ff,bp")
    ids = [c.id for c in case_matrix(opts)]
    slices = [select(ids, parse_shard(f"{k}/{count}")) for k in range(1, count + 1)]
    assert sum(len(s) for s in slices) == len(ids)
    assert set().union(*slices) == set(ids)
    assert max(map(len, slices)) - min(map(len, slices)) <= 1


def test_shards_do_not_depend_on_collection_order() -> None:
    ids = [f"mnist-ff-threshold={t}-seed{s}" for t in range(9) for s in range(3)]
    shuffled = ids[:]
    random.Random(1).shuffle(shuffled)
    assert assign(ids, 4) == assign(shuffled, 4)


def test_a_shard_session_runs_its_slice_only() -> None:
    whole = _parse(grids=("threshold=1/2/4",), seeds="2")
    parts = [shard_cases(_parse(grids=("threshold=1/2/4",), seeds="2", shard=f"{k}/4")) for k in
             range(1, 5)]  # fmt: skip
    assert sorted(c.id for p in parts for c in p) == sorted(c.id for c in case_matrix(whole))


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "2/0", "-1/3"])
def test_bad_shards(text: str) -> None:
    with pytest.raises(OptionError, match="expected K/N"):
        parse_shard(text)

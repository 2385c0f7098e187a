"""The report's section on multi-process cases: a table row per case with its speedup,
bubble and bit-identity, and a speedup-vs-ranks figure; nothing for single-process runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ff_algos.parallel.run import WorldRun
from ff_algos.parallel.section import Shape, section
from ff_algos.record import CaseRecord, parallel_from
from ff_algos.report.parallel import FIGURE, parallel_figures, parallel_tables

FIXTURES = Path(__file__).parent / "fixtures" / "runs"


def _rank(rank: int, seconds: float, busy: float) -> dict[str, object]:
    return {
        "report": {
            "rank": rank, "host": "h", "threads": 1, "layers": [rank + 1],
            "train_seconds": seconds, "busy_seconds": busy, "idle_seconds": seconds - busy,
            "wait_seconds": None, "bytes_sent_per_epoch": 2048 * (1 - rank),
            "bytes_received_per_epoch": 2048 * rank, "peak_memory_bytes": 1 << 20,
            "memory_kind": "host_rss",
        }
    }  # fmt: skip


def _case(world: int, seconds: float, strategy: str = "pipe") -> CaseRecord:
    saved = json.loads(sorted(FIXTURES.rglob("*.json"))[0].read_text())
    base = CaseRecord.from_extra_info(saved["benchmarks"][0]["extra_info"])
    run = WorldRun(
        [_rank(r, seconds, seconds * 0.75) for r in range(world)],
        {1: _rank(0, 6.0, 6.0), 2: _rank(0, 4.0, 4.0)},
        "gloo",
        "elastic_launch/fork",
    )
    shape = Shape(strategy, 4 // world, 1, "all layers at once", "cpu time", "counted")
    parallel = parallel_from(section(run, shape, 1, 2, 1000, weights_match=True))
    return dataclasses.replace(base, method="ff_pipe", parallel=parallel)


def test_one_row_per_parallel_case_with_its_speedup_and_bubble() -> None:
    (table,) = parallel_tables([_case(2, 3.0), _case(4, 2.0)])
    col = {name: i for i, name in enumerate(table.columns)}
    two, four = table.rows
    assert two[col["method"]] == "ff_pipe/pipe"
    assert two[col["world"]] == "2 x 1t (gloo)"
    assert two[col["speedup"]] == "2.00x"
    assert two[col["efficiency"]] == "100%"
    assert two[col["vs same threads"]] == "1.33x"
    assert four[col["speedup"]] == "3.00x"
    assert four[col["efficiency"]] == "75%"
    assert two[col["idle"]] == "25%"
    assert two[col["weights = serial"]] == "yes"
    assert two[col["sent/epoch"]] == "2 KiB"


def test_runs_without_parallel_cases_add_nothing() -> None:
    case = dataclasses.replace(_case(2, 3.0), parallel=None)
    assert parallel_tables([case]) == []
    assert parallel_figures([case], "caption") == {}


def test_the_figure_draws_speedup_against_ranks() -> None:
    pytest.importorskip("matplotlib")
    figures = parallel_figures([_case(2, 3.0), _case(4, 2.0)], "caption")
    title, png = figures[FIGURE]
    assert "against ranks" in title
    assert png.startswith(b"\x89PNG")

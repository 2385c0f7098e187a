"""The record's ``parallel`` section: a world's section saves, validates and reads back as
the same typed record; single-process cases keep their old layout."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from ff_algos.parallel.job import Job
from ff_algos.parallel.run import WorldRun
from ff_algos.parallel.section import Shape, section
from ff_algos.record import CaseRecord, ParallelRecord, parallel_from
from ff_algos.schema import validate

FIXTURES = Path(__file__).parent / "fixtures" / "runs"


def _rank(rank: int, seconds: float) -> dict[str, object]:
    return {
        "report": {
            "rank": rank, "host": "h", "threads": 1, "layers": [rank + 1],
            "train_seconds": seconds, "busy_seconds": seconds / 2, "idle_seconds": seconds / 2,
            "wait_seconds": 0.1, "bytes_sent_per_epoch": 10, "bytes_received_per_epoch": 0,
            "peak_memory_bytes": 1 << 20, "memory_kind": "host_rss",
        }
    }  # fmt: skip


def test_speedup_and_efficiency_come_from_the_serial_references() -> None:
    run = WorldRun(
        ranks=[_rank(0, 5.0), _rank(1, 6.0)],
        serial={1: _rank(0, 12.0), 2: _rank(0, 9.0)},
        backend="gloo",
        launcher="elastic_launch/fork",
    )
    shape = Shape("pipe", 1, 1, "all layers at once", "cpu", "counted")
    saved = section(run, shape, threads=1, epochs=3, rows_per_epoch=600, weights_match=True)
    record = parallel_from(saved)
    assert isinstance(record, ParallelRecord)
    assert record.epoch_seconds == 2.0  # the slowest rank's 6 s over 3 epochs
    assert record.speedup == 2.0
    assert record.efficiency == 1.0
    assert record.speedup_vs_same_threads == 1.5
    assert record.rows_per_s == 300.0
    assert record.ranks[1].layers == (2,)
    assert [s.threads for s in record.serial] == [1, 2]


def test_a_case_with_a_parallel_section_validates_and_reads_back() -> None:
    saved_run = json.loads(sorted(FIXTURES.rglob("*.json"))[0].read_text())
    base = CaseRecord.from_extra_info(saved_run["benchmarks"][0]["extra_info"])
    run = WorldRun([_rank(0, 1.0), _rank(1, 1.0)], {1: _rank(0, 2.0)}, "gloo", "in_process")
    saved = section(run, Shape("ddp", None, 1, "DDP", "cpu", "ring"), 1, 1, 100, None)
    record = dataclasses.replace(base, parallel=parallel_from(saved))
    info = record.to_extra_info()
    assert validate(info) == validate(base.to_extra_info())  # the section adds no problem
    info["parallel"]["world"] = "2"
    assert "parallel.world is str, expected int" in validate(info)
    info["parallel"]["world"] = 2
    assert type(record).from_extra_info(info) == record
    assert "parallel" not in base.to_extra_info()


def test_a_job_round_trips_through_json() -> None:
    job = Job("m:f", {"hidden": [1, 2]}, "d.pt", "out", 2, 1, "gloo", 5.0, "cpu", {"n_train": 3})
    assert Job.from_json(job.to_json()) == job
    assert torch.get_num_threads() >= 1

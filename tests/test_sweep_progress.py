"""Shard states and ``--resume``'s skip list, from a sweep folder's files (no jobs run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ff_algos.suite.journal import append_record
from ff_algos.sweep.errors import SweepError
from ff_algos.sweep.launch import manifest_for, shard_command
from ff_algos.sweep.layout import SweepDir
from ff_algos.sweep.progress import shard_states, summary_line
from ff_algos.sweep.script import SlurmOptions, job_script

CASES = {1: ["mnist-ff-seed0", "mnist-ff-seed2"], 2: ["mnist-ff-seed1"]}


def _finish(sweep: SweepDir, k: int, case: str, *, saved: bool, status: str = "passed") -> None:
    nodeid = f"bench/test_bench.py::test_fit[{case}]"
    append_record(sweep.journal(k), {"nodeid": nodeid, "status": status})
    if saved:
        run = sweep.storage(k) / "Linux-CPython-3.11-64bit" / f"000{len(sweep.runs(k)) + 1}_s.json"
        run.parent.mkdir(parents=True, exist_ok=True)
        run.write_text(json.dumps({"benchmarks": [{"name": f"test_fit[{case}]"}]}))


def _sweep(tmp_path: Path) -> SweepDir:
    sweep = SweepDir(tmp_path / "sweep")
    sweep.root.mkdir()
    sweep.add_submission({"number": 1, "launcher": "slurm", "job": "7", "shards": [1, 2]})
    return sweep


def test_states_follow_the_queue_the_exit_files_and_the_finished_cases(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    states = shard_states(sweep, CASES, {1: "running", 2: "pending"})
    assert summary_line(states) == "2 shards: 1 pending, 1 running, 0 done, 0 failed"
    _finish(sweep, 1, "mnist-ff-seed0", saved=True)
    _finish(sweep, 1, "mnist-ff-seed2", saved=True, status="below_floor")
    sweep.exit_file(1, 1).write_text("1\n")  # a case below its floor: exit 1, yet finished
    states = shard_states(sweep, CASES, {})  # shard 2 left the queue without an exit status
    assert [(s.shard, s.state) for s in states] == [(1, "done"), (2, "failed")]
    assert "cancelled" in states[1].reason
    assert states[1].log == sweep.log(2, 1)


def test_a_case_journaled_but_never_saved_is_run_again(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    _finish(sweep, 1, "mnist-ff-seed0", saved=True)
    _finish(sweep, 1, "mnist-ff-seed2", saved=False)  # killed before pytest-benchmark saved
    _finish(sweep, 1, "mnist-ff-seed2", saved=False, status="error")
    sweep.exit_file(1, 1).write_text("137\n")
    (state, _) = shard_states(sweep, CASES, {})
    assert (state.state, state.reason) == ("failed", "exit 137, 1 case(s) missing")
    manifest = manifest_for(
        name="s", shards=2, cases=CASES, pytest_args=["--recipe=tiny"], bench=Path("bench"),
        checkout=tmp_path, options={},
    )  # fmt: skip
    command = shard_command(manifest, sweep, 1)
    assert "--deselect=bench/test_bench.py::test_fit[mnist-ff-seed0]" in command
    assert not any("seed2" in part for part in command)
    assert "--shard=1/2" in command
    assert f"--journal={sweep.journal(1).resolve()}" in command


def test_the_job_script_passes_the_cluster_options(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    options = SlurmOptions(partition="gpu", time="01:00:00", gpus_per_task=1, max_running=2,
                           extra=("--qos=high",))  # fmt: skip
    text = job_script(sweep, 3, {2: ["pytest", "a b"], 4: ["pytest"]}, tmp_path, "s", options)
    for line in ("--array=2,4%2", "--partition=gpu", "--time=01:00:00", "--gpus-per-task=1",
                 "--qos=high", f"--output={sweep.root.resolve()}/shard-%a/3.log"):  # fmt: skip
        assert f"#SBATCH {line}" in text
    assert "  2) pytest 'a b' ;;" in text
    assert "--account" not in text


def test_a_sweep_folder_is_written_once(tmp_path: Path) -> None:
    sweep = SweepDir(tmp_path)
    sweep.write_manifest({"name": "s"})
    with pytest.raises(SweepError, match="already holds a sweep; pass --resume"):
        sweep.write_manifest({"name": "t"})
    with pytest.raises(SweepError, match="holds no sweep"):
        SweepDir(tmp_path / "none").read_manifest()

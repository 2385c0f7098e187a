"""A 2-task ``ff_pipe`` world through a real SLURM: the job folder and script that
``python -m ff_algos.parallel.cluster prepare`` writes, ``sbatch --wait``, and ranks that take
their rendezvous from SLURM's environment; the weights match serial training here bit for bit.

Start a one-node cluster with ``.ci/slurm-up`` (root; CI does). Without one the test skips, or
fails when ``FF_BENCH_REQUIRE_SLURM=1``. The script's text is checked without SLURM too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ff_algos.parallel.sbatch import world_script
from ff_algos.sweep.script import SlurmOptions
from tests.test_sweep_slurm import _slurm_problem

REPO = Path(__file__).resolve().parents[1]


def test_the_world_script_runs_one_srun_step_over_the_tasks(tmp_path: Path) -> None:
    script = world_script(
        tmp_path / "job.json", 4, 2, 3, REPO, "/usr/bin/python3", SlurmOptions(partition="cpu")
    )
    assert "#SBATCH --nodes=2" in script
    assert "#SBATCH --ntasks=4" in script
    assert "#SBATCH --cpus-per-task=3" in script
    assert "#SBATCH --partition=cpu" in script
    assert "export OMP_NUM_THREADS=3" in script
    srun = "srun --kill-on-bad-exit=1 /usr/bin/python3 -m ff_algos.parallel.entry"
    assert f"{srun} {tmp_path / 'job.json'}" in script


@pytest.fixture(scope="module")
def slurm() -> None:
    problem = _slurm_problem()
    if problem is None:
        return
    message = f"{problem}; start a one-node cluster with .ci/slurm-up (as root)"
    if os.environ.get("FF_BENCH_REQUIRE_SLURM") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _cluster(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ff_algos.parallel.cluster", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_a_two_task_pipeline_through_sbatch_matches_serial_training(
    slurm: None, real_data_root: Callable[[str], Path], tmp_path: Path
) -> None:
    env = os.environ | {"FF_BENCH_DATA": str(real_data_root("mnist")), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "world"
    prepared = _cluster(
        "prepare", "--method=ff_pipe", "--recipe=tiny", "--dataset=mnist", "--set=world=2",
        f"--out={out}", "--cpus-per-task=1", env=env,
    )  # fmt: skip
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    script = out / "submit.sh"
    assert "#SBATCH --ntasks=2" in script.read_text()
    done = subprocess.run(
        ["sbatch", "--wait", str(script)], capture_output=True, text=True, timeout=600, check=False
    )
    logs = "".join(p.read_text() for p in out.glob("slurm-*.log"))
    assert done.returncode == 0, done.stdout + done.stderr + logs
    collected = _cluster("collect", str(out), "--serial", env=env)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    result = json.loads(collected.stdout)
    assert result["world"] == 2
    assert [r["layers"] for r in result["ranks"]] == [[1], [2]]
    assert result["weights_match_serial"] is True


@pytest.mark.slow
def test_ranks_started_as_srun_starts_them_rendezvous_from_slurms_variables(
    real_data_root: Callable[[str], Path], tmp_path: Path
) -> None:
    """Two tasks with only SLURM's variables (what srun gives each task), no SLURM needed."""
    env = os.environ | {"FF_BENCH_DATA": str(real_data_root("mnist")), "OMP_NUM_THREADS": "1"}
    for key in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(key, None)
    out = tmp_path / "world"
    prepared = _cluster(
        "prepare", "--method=ff_pipe", "--recipe=tiny", "--dataset=mnist", "--set=world=2",
        f"--out={out}", env=env,
    )  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    tasks = [
        subprocess.Popen(
            [sys.executable, "-m", "ff_algos.parallel.entry", str(out / "job.json")],
            cwd=REPO,
            env=env
            | {
                "SLURM_PROCID": str(rank),
                "SLURM_NTASKS": "2",
                "SLURM_LOCALID": str(rank),
                "SLURM_NODELIST": "localhost",
                "SLURM_JOB_ID": str(os.getpid()),
            },
        )
        for rank in range(2)
    ]
    assert [t.wait(timeout=300) for t in tasks] == [0, 0]
    # the serial reference trains with the ranks' one thread whatever this shell's threads are
    collected = _cluster("collect", str(out), "--serial", env=env | {"OMP_NUM_THREADS": "2"})
    assert collected.returncode == 0, collected.stderr
    result = json.loads(collected.stdout)
    assert result["weights_match_serial"] is True
    assert [r["bytes_received_per_epoch"] > 0 for r in result["ranks"]] == [False, True]


@pytest.mark.slow
def test_a_backprop_world_collects_against_its_serial_reference(
    real_data_root: Callable[[str], Path], tmp_path: Path
) -> None:
    """``collect --serial`` trains the method's own serial reference (a pipeline schedule cannot
    run as a world of one)."""
    env = os.environ | {"FF_BENCH_DATA": str(real_data_root("mnist")), "OMP_NUM_THREADS": "1"}
    for key in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(key, None)
    out = tmp_path / "world"
    prepared = _cluster(
        "prepare", "--method=bp_parallel", "--recipe=tiny", "--dataset=mnist",
        "--set=strategy=gpipe", "--set=world=2", f"--out={out}", env=env,
    )  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    slurm_env = {"SLURM_NTASKS": "2", "SLURM_NODELIST": "localhost", "SLURM_JOB_ID": "7"}
    tasks = [
        subprocess.Popen(
            [sys.executable, "-m", "ff_algos.parallel.entry", str(out / "job.json")],
            cwd=REPO,
            env=env | slurm_env | {"SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)},
        )
        for rank in range(2)
    ]
    assert [t.wait(timeout=300) for t in tasks] == [0, 0]
    collected = _cluster("collect", str(out), "--serial", env=env)
    assert collected.returncode == 0, collected.stderr
    result = json.loads(collected.stdout)
    assert result["serial_epoch_seconds"] > 0
    assert isinstance(result["weights_match_serial"], bool)

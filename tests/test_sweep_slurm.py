"""End to end against a real SLURM: a 4-shard ``tiny`` sweep submitted with ``ff-bench sweep``
through sbatch, waited for, merged and reported.

Start a one-node cluster with ``.ci/slurm-up`` (root; CI does). Without one the test skips with
the reason, or fails when ``FF_BENCH_REQUIRE_SLURM=1`` (CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _slurm_problem() -> str | None:
    """Why no SLURM can take jobs here, or None."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "SLURM is not installed (no sbatch/sinfo on PATH)"
    done = subprocess.run(
        ["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, check=False
    )
    states = done.stdout.split()
    if done.returncode != 0 or not any(s in ("idle", "mixed", "allocated") for s in states):
        return f"SLURM does not answer with a usable node ({(done.stderr or done.stdout).strip()})"
    return None


@pytest.fixture(scope="module")
def slurm() -> None:
    problem = _slurm_problem()
    if problem is None:
        return
    message = f"{problem}; start a one-node cluster with .ci/slurm-up (as root)"
    if os.environ.get("FF_BENCH_REQUIRE_SLURM") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _ff_bench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ff_algos", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_a_sweep_through_sbatch_is_merged_and_reported(
    slurm: None, real_data_root: Callable[[str], Path], tmp_path: Path
) -> None:
    env = os.environ | {"FF_BENCH_DATA": str(real_data_root("mnist"))}
    out, store = tmp_path / "sweep", tmp_path / "store"
    sweep = _ff_bench(
        "sweep", "--recipe=tiny", "--datasets=mnist", "--methods=ff", "--device=cpu",
        "--grid=threshold=1/4", "--grid=lr=0.03/0.1", "--shards=4", "--name=e2e",
        f"--out={out}", f"--storage={store}", f"--bench={REPO / 'bench'}",
        "--launcher=slurm", "--cpus-per-task=1", "--poll=2",
        env=env,
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert "4 shards: 0 pending, 0 running, 4 done, 0 failed" in sweep.stdout
    assert "#SBATCH --array=1,2,3,4" in (out / "submit-1.sh").read_text()
    for k in range(1, 5):  # each shard its own pytest session, storage, journal and log
        (run,) = (out / f"shard-{k}" / "storage").glob("*/0001_e2e.json")
        assert json.loads(run.read_text())["ff_bench_shard"]["shard"] == f"{k}/4"
        assert (out / f"shard-{k}" / "journal.jsonl").is_file()
        assert "passed" in (out / f"shard-{k}" / "1.log").read_text()
    found = re.search(r"merged run: (\S+)", sweep.stdout)
    assert found, sweep.stdout
    merged = json.loads(Path(found[1]).read_text())
    names = sorted(b["name"] for b in merged["benchmarks"])
    assert names == sorted(
        f"test_fit[mnist-ff-threshold={t}-lr={lr}-seed0]" for t in (1, 4) for lr in ("0.03", "0.1")
    )
    assert {b["extra_info"]["recipe"]["threshold"] for b in merged["benchmarks"]} == {1.0, 4.0}
    assert sum(m["cases"] for m in merged["machine_info"]["ff_bench_machines"]) == 4

    again = _ff_bench("merge", str(out), "--name=again", f"--storage={store}", env=env)
    assert again.returncode == 0, again.stderr
    assert "0002_again.json" in again.stdout

    report = _ff_bench("report", found[1], f"--out={tmp_path / 'report'}", env=env)
    assert report.returncode == 0, report.stderr
    markdown = (tmp_path / "report" / "report.md").read_text()
    (heatmap,) = (tmp_path / "report").glob("grid_mnist_ff_*.png")  # the two-field grid
    assert heatmap.name in ("grid_mnist_ff_lr_threshold.png", "grid_mnist_ff_threshold_lr.png")
    assert f"]({heatmap.name})" in markdown

    compare = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "--storage", f"file://{store}",
         "compare", "0001"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert compare.returncode == 0, compare.stderr
    assert "test_fit[mnist-ff-threshold=4-lr=0.1-seed0]" in compare.stdout

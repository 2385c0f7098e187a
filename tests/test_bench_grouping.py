"""pytest-benchmark's own groupings, columns and sorts on ff-bench runs: in a session that holds
``test_fit`` and scaling cases, and through ``pytest-benchmark compare`` on the saved run and on
the fixture runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
FIXTURE_RUNS = Path(__file__).parent / "fixtures" / "runs"

# every grouping pytest-benchmark documents, with the parameter names ff-bench cases have
GROUPINGS = (
    "group",
    "name",
    "fullname",
    "func",
    "fullfunc",
    "param",
    "param:dataset",
    "param:method",
    "param:seed",
    "param:dataset,param:method",
)
COLUMNS = "min,max,mean,stddev,median,iqr,outliers,ops,rounds,iterations"
SORTS = ("min", "max", "mean", "stddev", "name", "fullname")


@pytest.fixture(scope="module")
def saved_run(
    tmp_path_factory: pytest.TempPathFactory, real_data_root: Callable[[str], Path]
) -> Path:
    """One tiny session (a ``test_fit`` case and a scaling case) grouped by dataset, saved to
    ``storage/``; returns the session folder (its output is in ``session.txt``)."""
    root = real_data_root("mnist")
    folder = tmp_path_factory.mktemp("grouped")
    for name in ("conftest.py", "test_bench.py", "test_scaling.py", "floors.toml"):
        shutil.copy(BENCH / name, folder / name)
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--recipe=tiny",
            "--datasets=mnist",
            "--methods=ff,bp",
            f"--data-root={root}",
            "--journal=journal.jsonl",
            "-k",
            "mnist-bp-seed0 or ff-batch32-depth2",
            "--benchmark-group-by=param:dataset",
            f"--benchmark-columns={COLUMNS}",
            "--benchmark-storage=file://storage",
            "--benchmark-save=grouped",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    (folder / "session.txt").write_text(proc.stdout + proc.stderr)
    (folder / "rc").write_text(str(proc.returncode))
    return folder


def test_a_session_grouped_by_dataset_holds_fit_and_scaling_cases(saved_run: Path) -> None:
    output = (saved_run / "session.txt").read_text()
    assert (saved_run / "rc").read_text() == "0", output[-3000:]
    assert "KeyError" not in output
    assert "2 passed" in output
    assert "benchmark 'dataset=mnist'" in output
    assert "benchmark 'dataset=synthetic'" in output


def test_scaling_cases_save_plain_parameters(saved_run: Path) -> None:
    (path,) = (saved_run / "storage").glob("*/0001_grouped.json")
    text = path.read_text()
    assert "UNSERIALIZABLE" not in text
    saved = {b["name"]: b for b in json.loads(text)["benchmarks"]}
    assert set(saved) == {"test_fit[mnist-bp-seed0]", "test_scaling[ff-batch32-depth2]"}
    assert saved["test_scaling[ff-batch32-depth2]"]["params"] == {
        "dataset": "synthetic",
        "method": "ff",
        "seed": 0,
    }
    assert saved["test_scaling[ff-batch32-depth2]"]["extra_info"]["depth"] == 2
    assert set(saved["test_fit[mnist-bp-seed0]"]["params"]) == {"dataset", "method", "seed"}


def _compare(cwd: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_compare_cli_groups_the_saved_run_and_the_fixtures(
    saved_run: Path, tmp_path: Path, group_by: str
) -> None:
    # run from a folder without conftest.py, as from the checkout's root
    run = next((saved_run / "storage").glob("*/0001_grouped.json"))
    fixtures = sorted(FIXTURE_RUNS.glob("*/*.json"))
    for files in ([run], fixtures, [run, *fixtures]):
        rc, output = _compare(
            tmp_path, "compare", *map(str, files), f"--group-by={group_by}", f"--columns={COLUMNS}"
        )
        assert rc == 0, output[-2000:]
        assert "Traceback" not in output
    if group_by == "param:dataset":
        assert "dataset=synthetic" in output
        assert "dataset=fashion_mnist" in output


@pytest.mark.parametrize("sort", SORTS)
def test_compare_cli_sorts_by_every_column(saved_run: Path, tmp_path: Path, sort: str) -> None:
    run = next((saved_run / "storage").glob("*/0001_grouped.json"))
    rc, output = _compare(
        tmp_path, "compare", str(run), f"--sort={sort}", "--group-by=param:method"
    )
    assert rc == 0, output[-2000:]
    assert "method=ff" in output
    assert "method=bp" in output


def test_grouping_by_a_parameter_no_case_has_is_a_usage_error(tmp_path: Path) -> None:
    for name in ("conftest.py", "test_bench.py", "test_scaling.py", "floors.toml"):
        shutil.copy(BENCH / name, tmp_path / name)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--recipe=tiny"),
            *("--methods=bp", "--journal=j.jsonl", "--benchmark-group-by=param:depth"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert (
        "ERROR: --benchmark-group-by param:depth: the cases have no parameter 'depth'; group by "
        "one of: param:dataset, param:method, param:seed"
    ) in proc.stderr

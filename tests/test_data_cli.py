"""`ff-bench data list` and `ff-bench data fetch`, in process and as `python -m ff_algos`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ff_algos.cli import main
from ff_algos.data import UnknownDatasetError
from ff_algos.data import cli as data_cli

if TYPE_CHECKING:
    from tests.conftest import TinyIdx


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ff-bench")
    data_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.run(args)
    return status


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: no wrapped cells


def test_list_shows_every_dataset(tiny_mnist: TinyIdx, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["data", "list", "--root", str(tiny_mnist.root)]) == 0
    assert _run(["data", "list", "--data-root", str(tiny_mnist.root)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    assert set(rows) == {"mnist", "fashion_mnist", "cifar10", "cifar100", "svhn"}
    assert "yes" in rows["mnist"]
    assert str(tiny_mnist.root / "MNIST" / "raw") in rows["mnist"]
    assert "absent" in rows["mnist"]
    assert "no" in rows["cifar10"]
    assert "60000/10000" in rows["fashion_mnist"]
    assert "73257/26032" in rows["svhn"]


def test_fetch_builds_cache_and_prints_load_times(
    tiny_mnist: TinyIdx, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["data", "fetch", "MNIST", "--root", str(tiny_mnist.root)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("│ mnist"))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[0] == "mnist"
    assert cells[1].endswith(" s")
    assert cells[2] == "decoded"
    assert cells[4] == "cache"
    assert cells[5:] == ["30", "10"]
    _run(["data", "list", "--root", str(tiny_mnist.root)])
    assert "valid (" in capsys.readouterr().out


def test_fetch_checks_every_name_first(tmp_path: Path) -> None:
    with pytest.raises(UnknownDatasetError, match="'nope'"):
        _run(["data", "fetch", "mnist", "nope", "--root", str(tmp_path / "root")])
    assert not (tmp_path / "root").exists()


def test_python_m_ff_algos_data_list(tiny_mnist: TinyIdx) -> None:
    # one subprocess (importing torch takes seconds): the module entry point works
    env = {**os.environ, "FF_BENCH_DATA": str(tiny_mnist.root), "COLUMNS": "250"}
    proc = subprocess.run(
        [sys.executable, "-m", "ff_algos", "data", "list"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Datasets under {tiny_mnist.root}" in proc.stdout


def test_error_is_one_line_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "fetch", "imagenet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ff-bench: error: unknown dataset 'imagenet'")
    assert len(err.strip().splitlines()) == 1

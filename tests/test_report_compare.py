"""``ff-bench compare``: ratios B/A per case and metric, regression flags and exit codes, cases
missing from one run, and runs with different recipes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ff_algos.cli import main
from ff_algos.report.compare import Thresholds, compare_runs
from ff_algos.report.runs import load_run, ref_for
from ff_algos.telemetry import units

RUNS = Path(__file__).parent / "fixtures" / "runs"
MACHINE = "Linux-CPython-3.11-64bit"


def fixture_runs() -> list[Path]:
    """Real saved runs of the suite (two CPU runs of the quick recipe, seeds 0 and 1)."""
    return sorted(RUNS.glob("*/[0-9][0-9][0-9][0-9]_*.json"))


def raw(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def save(storage: Path, name: str, data: dict[str, Any]) -> Path:
    path = storage / MACHINE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def infos(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["name"]: b["extra_info"] for b in data["benchmarks"]}


def test_ratios_are_b_over_a_for_the_fixture_pair() -> None:
    path_a, path_b = fixture_runs()[:2]
    result = compare_runs(load_run(ref_for(path_a)), load_run(ref_for(path_b)), Thresholds())
    a, b = infos(raw(path_a)), infos(raw(path_b))
    common = [n for n in a if n in b]
    assert common
    rows = result.table.rows
    # rows of one case follow its first row (where the case label is given)
    by_case: dict[str, dict[str, tuple[str, ...]]] = {}
    label = ""
    for row in rows:
        label = row[0] or label
        by_case.setdefault(label, {})[row[1]] = row
    assert len(by_case) == len(common)
    for case_rows, name in zip(by_case.values(), common, strict=True):
        e2e = case_rows["end to end"]
        ratio = b[name]["seconds"]["end_to_end"] / a[name]["seconds"]["end_to_end"]
        assert e2e[4] == units.ratio(ratio)
        acc = case_rows["test accuracy"]
        assert acc[4] == units.accuracy_diff(
            b[name]["accuracy"]["test"] - a[name]["accuracy"]["test"]
        )
        assert ("slower" in e2e[5]) == (ratio > 1.10)
        assert (acc[6], e2e[6]) == ("threshold", "threshold")  # one seed per run
        assert case_rows["data"][6] == units.NOT_APPLICABLE  # shown, not judged
    assert set(result.only_a) == {n for n in a if n not in b}
    assert set(result.only_b) == {n for n in b if n not in a}


def test_a_run_against_itself_flags_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fixture_runs()[0]
    status = main(["compare", str(path), str(path), "--fail-on-regression"])
    out = capsys.readouterr().out
    assert status == 0
    assert "nothing flagged" in out
    assert "FLAGGED" not in out
    assert "1×" in out  # every ratio of a run with itself


def make_b(
    data: dict[str, Any], *, slower: float = 1.0, accuracy_drop: float = 0.0
) -> dict[str, Any]:
    """A copy of ``data`` whose first case is slower and less accurate."""
    b = copy.deepcopy(data)
    info = b["benchmarks"][0]["extra_info"]
    for key in ("end_to_end", "train"):
        info["seconds"][key] *= slower
    info["accuracy"]["test"] -= accuracy_drop
    return b


@pytest.mark.parametrize(
    ("slower", "drop", "flags"),
    [
        (1.0, 0.0, 0),
        (1.05, 0.005, 0),  # within the defaults (1.10x, 0.01)
        (1.5, 0.0, 2),  # end to end and train
        (1.0, 0.05, 1),
        (1.5, 0.05, 3),
    ],
)
def test_regressions_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], slower: float, drop: float, flags: int
) -> None:
    data = raw(fixture_runs()[0])
    store = tmp_path / "store"
    save(store, "0001_a.json", data)
    save(store, "0002_b.json", make_b(data, slower=slower, accuracy_drop=drop))
    argv = ["compare", "1", "2", "--storage", str(store)]
    assert main(argv) == 0  # flags alone never fail the command
    out = capsys.readouterr().out
    assert out.count("FLAGGED") == flags
    assert main([*argv, "--fail-on-regression"]) == (1 if flags else 0)
    capsys.readouterr()


def test_thresholds_are_configurable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = raw(fixture_runs()[0])
    store = tmp_path / "store"
    save(store, "0001_a.json", data)
    save(store, "0002_b.json", make_b(data, slower=1.5, accuracy_drop=0.05))
    argv = ["compare", "1", "2", "--storage", str(store), "--fail-on-regression"]
    assert main([*argv, "--slowdown", "2", "--accuracy-tol", "0.1"]) == 0
    assert main([*argv, "--slowdown", "2"]) == 1
    capsys.readouterr()


def test_missing_cases_are_listed_and_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = raw(fixture_runs()[0])
    b = copy.deepcopy(data)
    dropped = b["benchmarks"].pop()["name"]
    store = tmp_path / "store"
    save(store, "0001_a.json", data)
    save(store, "0002_b.json", b)
    assert main(["compare", "1", "2", "--storage", str(store), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert f"only in A ({MACHINE}/0001_a): {dropped}" in out
    assert "missing from B" in out
    # the other way round a new case is listed, not flagged
    assert main(["compare", "2", "1", "--storage", str(store), "--fail-on-regression"]) == 0
    assert f"only in B ({MACHINE}/0001_a): {dropped}" in capsys.readouterr().out


def test_different_recipes_warn_but_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = raw(fixture_runs()[0])
    b = copy.deepcopy(data)
    for bench in b["benchmarks"]:
        if bench["extra_info"]["method"] == "ff":  # every FF case: one and the same difference
            bench["extra_info"]["recipe"]["epochs"] += 1
    store = tmp_path / "store"
    save(store, "0001_a.json", data)
    save(store, "0002_b.json", b)
    assert main(["compare", "1", "2", "--storage", str(store)]) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if line.startswith("warning: not like for like")]
    assert len(warnings) == 1  # one line for the one difference, naming the cases
    assert "epochs" in warnings[0]
    assert " FF" in warnings[0]
    assert "backprop" not in warnings[0]
    assert "end to end" in out  # still compared


def test_devices_of_both_runs_are_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = raw(fixture_runs()[0])
    b = copy.deepcopy(data)
    for bench in b["benchmarks"]:
        bench["extra_info"]["device"] = {
            "type": "cuda",
            "name": "NVIDIA H100 80GB HBM3",
            "index": 0,
        }
    store = tmp_path / "store"
    save(store, "0001_a.json", data)
    save(store, "0002_b.json", b)
    assert main(["compare", "1", "2", "--storage", str(store)]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA H100 80GB HBM3 (cuda:0)" in out
    assert load_run(ref_for(store / MACHINE / "0001_a.json")).devices[0] in out


def test_three_runs_compare_each_against_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = raw(fixture_runs()[0])
    store = tmp_path / "store"
    save(store, "0001_a.json", data)
    save(store, "0002_b.json", make_b(data, slower=1.5))
    save(store, "0003_c.json", data)
    assert main(["compare", "1", "2", "3", "--storage", str(store), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert f"A = {MACHINE}/0001_a  vs  B = {MACHINE}/0002_b" in out
    assert f"A = {MACHINE}/0001_a  vs  B = {MACHINE}/0003_c" in out
    assert out.count("FLAGGED") == 2

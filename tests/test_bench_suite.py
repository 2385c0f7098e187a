"""End-to-end runs of ``pytest bench/`` under pytester, on real MNIST with the ``tiny`` recipe."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ff_algos.schema import validate
from ff_algos.suite.journal import read_journal

BENCH = Path(__file__).resolve().parents[1] / "bench"

pytest_plugins = ["pytester"]


def _copy_suite(pytester: pytest.Pytester) -> None:
    for name in ("conftest.py", "test_bench.py", "floors.toml"):
        shutil.copy(BENCH / name, pytester.path / name)


@pytest.fixture
def bench(pytester: pytest.Pytester, real_data_root: Callable[[str], Path]) -> pytest.Pytester:
    """A pytester folder holding a copy of the suite, pointed at the real data root."""
    root = real_data_root("mnist")
    _copy_suite(pytester)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester._monkeypatch.setenv("FF_BENCH_DATA", str(root))
    return pytester


def _run(bench: pytest.Pytester, *args: str) -> pytest.RunResult:
    return bench.runpytest_subprocess(
        "--recipe=tiny", "--datasets=mnist", "--journal=journal.jsonl", *_methods(args), *args
    )


def _methods(args: tuple[str, ...]) -> tuple[str, ...]:
    """The baselines unless the test names methods itself."""
    return () if any(a.startswith("--methods") for a in args) else ("--methods=ff,bp",)


def _saved(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_saved_json_follows_the_schema(bench: pytest.Pytester) -> None:
    result = _run(bench, "--benchmark-json=out.json")
    result.assert_outcomes(passed=2)
    saved = _saved(bench.path / "out.json")
    cases = {b["params"]["method"]: b for b in saved["benchmarks"]}
    assert set(cases) == {"ff", "bp"}
    for case in cases.values():
        assert validate(case["extra_info"]) == []
        assert case["params"]["dataset"] == "mnist"
        assert case["stats"]["rounds"] == 1
    ff_phases = cases["ff"]["extra_info"]["compute"]["per_epoch"]
    assert sorted(ff_phases) == ["layer1", "layer2"]
    assert all(len(v) == cases["ff"]["extra_info"]["recipe"]["epochs"] for v in ff_phases.values())
    facts = saved["machine_info"]["ff_bench"]
    for key in ("torch", "torchvision", "cpu_model", "git_commit", "gpu_count"):
        assert key in facts
    result.stdout.fnmatch_lines(["*ff-bench summary*", "*mnist*ff*", "*mnist*bp*"])
    records = read_journal(bench.path / "journal.jsonl")
    assert [r["status"] for r in records] == ["no_floor", "no_floor"]


def test_case_below_its_floor_fails_and_is_still_saved(bench: pytest.Pytester) -> None:
    (bench.path / "strict.toml").write_text("[tiny.mnist]\nff = 1.0\nbp = 0.0\n")
    result = _run(bench, "--floors=strict.toml", "--benchmark-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*mnist/ff: test accuracy 0.* is below the floor 1.0000*"])
    saved = {
        b["params"]["method"]: b["extra_info"]
        for b in _saved(bench.path / "out.json")["benchmarks"]
    }
    assert saved["ff"]["accuracy"]["passed"] is False
    assert saved["bp"]["accuracy"]["passed"] is True
    statuses = {r["method"]: r["status"] for r in read_journal(bench.path / "journal.jsonl")}
    assert statuses == {"ff": "below_floor", "bp": "passed"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--recipe=nope"],
            "--recipe 'nope' is unknown; choose one of: seed, quick, tiny, matched, parallel, "
            "strong",
        ),
        (["--set=bogus=1"], "--set: unknown recipe field 'bogus'; valid fields: *"),
    ],
)
def test_unknown_option_values_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    # every other bad value goes through the same parse_options; see test_suite_options.py
    _copy_suite(pytester)
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_journal_keeps_finished_cases_when_the_session_dies(bench: pytest.Pytester) -> None:
    # the process is killed hard after its first case, before pytest-benchmark saves anything
    bench.makeconftest(
        (BENCH / "conftest.py").read_text()
        + "\n\ndef pytest_runtest_logfinish(nodeid, location):\n    import os\n    os._exit(3)\n"
    )
    result = _run(bench, "--benchmark-json=out.json")
    assert result.ret == 3
    assert not (bench.path / "out.json").exists()
    records = read_journal(bench.path / "journal.jsonl")
    assert len(records) == 1
    assert records[0]["method"] == "ff"
    assert validate(records[0]["extra_info"]) == []


def test_absent_dataset_skips_unless_named(pytester: pytest.Pytester) -> None:
    _copy_suite(pytester)
    empty = pytester.mkdir("empty-root")
    implicit = pytester.runpytest_subprocess(
        "--recipe=tiny", "--methods=bp", f"--data-root={empty}", "-rs"
    )
    implicit.assert_outcomes(skipped=5)
    implicit.stdout.fnmatch_lines([f"*svhn is not present under {empty}*ff-bench data fetch svhn*"])
    explicit = pytester.runpytest_subprocess(
        "--recipe=tiny", "--methods=bp", "--datasets=cifar10", f"--data-root={empty}"
    )
    explicit.assert_outcomes(failed=1)
    explicit.stdout.fnmatch_lines(["*cifar10 is not present*ff-bench data fetch cifar10*"])


def test_out_of_memory_fails_the_case_and_the_session_goes_on(bench: pytest.Pytester) -> None:
    bench.makeconftest(
        (BENCH / "conftest.py").read_text()
        + """

import ff_algos.suite.case as _case

_real_fit = _case.fit


def _fit_or_oom(recipe, data, observer=None):
    if recipe.method == "ff":
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    return _real_fit(recipe, data, observer=observer)


_case.fit = _fit_or_oom
"""
    )
    result = _run(bench, "--benchmark-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*out of device memory: the cpu device ran out of memory*"])
    saved = _saved(bench.path / "out.json")
    assert [b["params"]["method"] for b in saved["benchmarks"]] == ["bp"]
    records = {r["method"]: r for r in read_journal(bench.path / "journal.jsonl")}
    assert records["ff"]["status"] == "out_of_memory"
    assert "Tried to allocate 20.00 GiB" in records["ff"]["error"]
    assert records["bp"]["status"] == "no_floor"


def test_scaling_cases_are_journaled(bench: pytest.Pytester) -> None:
    shutil.copy(BENCH / "test_scaling.py", bench.path / "test_scaling.py")
    result = _run(bench, "-k", "scaling and ff-batch32-depth2", "--benchmark-json=out.json")
    result.assert_outcomes(passed=1)
    records = read_journal(bench.path / "journal.jsonl")
    assert [(r["kind"], r["status"]) for r in records] == [("scaling", "passed")]
    assert records[0]["config"]["depth"] == 2
    saved = _saved(bench.path / "out.json")["benchmarks"][0]["extra_info"]
    assert records[0]["extra_info"] == saved

"""Finding saved runs the way pytest-benchmark names them, and loading (or refusing) them."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ff_algos.report.errors import BadRunError, RunNotFoundError
from ff_algos.report.runs import find_run, find_runs, latest_run, list_runs, load_run, ref_for

RUNS = Path(__file__).parent / "fixtures" / "runs"
MACHINE = "Linux-CPython-3.11-64bit"


def fixture_runs() -> list[Path]:
    """Real saved runs of the suite (two CPU runs of the quick recipe, seeds 0 and 1)."""
    return sorted(RUNS.glob("*/[0-9][0-9][0-9][0-9]_*.json"))


def make_storage(tmp_path: Path, names: list[str], machine: str = MACHINE) -> Path:
    """A storage folder holding the first fixture run under each file name given."""
    storage = tmp_path / ".benchmarks"
    folder = storage / machine
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(fixture_runs()[0], folder / name)
    return storage


def raw_run() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_runs()[0].read_text(encoding="utf-8"))
    return data


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- finding -----------------------------------------------------------------------------------


def test_ref_parses_number_name_and_machine() -> None:
    ref = ref_for(Path(f"/x/{MACHINE}/0012_quick-a.json"))
    assert (ref.number, ref.name, ref.machine_id) == ("0012", "quick-a", MACHINE)
    assert ref.label == f"{MACHINE}/0012_quick-a"
    loose = ref_for(Path("/x/fixtures/run.json"))
    assert (loose.number, loose.name, loose.machine_id) == (None, "run", None)


def test_list_runs_uses_pytest_benchmark_order(tmp_path: Path) -> None:
    storage = make_storage(tmp_path, ["0002_b.json", "0001_a.json", "0010_c.json"])
    assert [r.stem for r in list_runs(storage)] == ["0001_a", "0002_b", "0010_c"]


def test_default_is_the_latest_numbered_run(tmp_path: Path) -> None:
    storage = make_storage(tmp_path, ["0001_a.json", "0003_c.json", "0002_b.json"])
    assert latest_run(storage).stem == "0003_c"
    assert [r.stem for r in find_runs([], storage).refs] == ["0003_c"]


@pytest.mark.parametrize("spec", ["0002", "2", "02", f"{MACHINE}/0002", f"{MACHINE}/2"])
def test_find_by_number(tmp_path: Path, spec: str) -> None:
    storage = make_storage(tmp_path, ["0001_a.json", "0002_b.json", "0012_c.json"])
    ref, note = find_run(spec, storage)
    assert ref.stem == "0002_b"
    assert note is None


def test_find_by_name_substring_and_glob(tmp_path: Path) -> None:
    storage = make_storage(tmp_path, ["0001_quick-cpu.json", "0002_seed-gpu.json"])
    assert find_run("seed", storage)[0].stem == "0002_seed-gpu"
    assert find_run("QUICK", storage)[0].stem == "0001_quick-cpu"
    assert find_run("*-gpu", storage)[0].stem == "0002_seed-gpu"


def test_same_name_saved_twice_picks_the_latest_and_says_so(tmp_path: Path) -> None:
    storage = make_storage(tmp_path, ["0001_nightly.json", "0002_other.json", "0003_nightly.json"])
    ref, note = find_run("nightly", storage)
    assert ref.stem == "0003_nightly"
    assert note is not None
    assert "0003_nightly" in note
    assert "latest" in note


def test_exact_name_wins_over_substring(tmp_path: Path) -> None:
    storage = make_storage(tmp_path, ["0001_gpu.json", "0002_gpu-big.json"])
    assert find_run("gpu", storage)[0].stem == "0001_gpu"


def test_ambiguous_name_lists_the_matches(tmp_path: Path) -> None:
    storage = make_storage(tmp_path, ["0001_quick-a.json", "0002_quick-b.json"])
    with pytest.raises(RunNotFoundError) as info:
        find_run("quick", storage)
    message = str(info.value)
    assert "0001_quick-a" in message
    assert "0002_quick-b" in message
    assert "\n" not in message


def test_same_number_in_two_machine_folders_is_ambiguous(tmp_path: Path) -> None:
    make_storage(tmp_path, ["0001_a.json"])
    storage = make_storage(tmp_path, ["0001_b.json"], machine="Darwin-CPython-3.11-64bit")
    with pytest.raises(RunNotFoundError, match="MACHINE/NNNN"):
        find_run("1", storage)
    assert find_run("Darwin-CPython-3.11-64bit/1", storage)[0].stem == "0001_b"


def test_no_match_lists_what_exists(tmp_path: Path) -> None:
    storage = make_storage(tmp_path, ["0001_quick-a.json"])
    with pytest.raises(RunNotFoundError) as info:
        find_run("nope", storage)
    assert "'nope'" in str(info.value)
    assert "0001_quick-a" in str(info.value)


def test_empty_or_missing_storage(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for storage in (tmp_path / "empty", tmp_path / "missing"):
        with pytest.raises(RunNotFoundError, match="no saved runs in"):
            find_runs([], storage)
        with pytest.raises(RunNotFoundError, match="no saved runs in"):
            find_run("quick", storage)


def test_find_by_path_and_folder_errors(tmp_path: Path) -> None:
    path = fixture_runs()[0]
    assert find_run(str(path), tmp_path / "missing")[0].path == path
    with pytest.raises(RunNotFoundError, match="--storage"):
        find_run(str(tmp_path), tmp_path / "missing")
    with pytest.raises(RunNotFoundError, match="no such saved run file"):
        find_run(str(tmp_path / "a" / "b" / "c.json"), tmp_path)


def test_same_run_named_twice_is_used_once(tmp_path: Path) -> None:
    storage = make_storage(tmp_path, ["0001_a.json"])
    found = find_runs(["1", "0001"], storage)
    assert len(found.refs) == 1
    assert found.notes


# --- loading -----------------------------------------------------------------------------------


def test_load_fixture_runs() -> None:
    for path in fixture_runs():
        run = load_run(ref_for(path))
        raw = json.loads(path.read_text(encoding="utf-8"))
        ff_bench = [b for b in raw["benchmarks"] if b["extra_info"].get("schema")]
        assert [c.name for c in run.cases] == [b["name"] for b in ff_bench]
        assert run.datetime == raw["datetime"]
        assert len(run.digest) == 64
        assert run.devices  # every case names its device


def test_benchmarks_without_ff_bench_results_are_ignored(tmp_path: Path) -> None:
    data = raw_run()
    other = copy.deepcopy(data["benchmarks"][0])
    other["name"] = "test_something_else"
    other["extra_info"] = {}
    data["benchmarks"].append(other)
    run = load_run(ref_for(write(tmp_path / "0001_x.json", data)))
    assert run.ignored == ("test_something_else",)
    assert len(run.cases) == len(data["benchmarks"]) - 1


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json at all", "not JSON"),
        ("[1, 2, 3]", "no 'benchmarks' list"),
        ('{"benchmarks": {}}', "no 'benchmarks' list"),
        ('{"benchmarks": []}', "no 'machine_info'"),
        ('{"benchmarks": [], "machine_info": {}}', "holds no ff-bench cases"),
    ],
)
def test_files_that_are_not_saved_runs(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "0001_bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadRunError, match=match) as info:
        load_run(ref_for(path))
    assert "\n" not in str(info.value)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "0001_bin.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(BadRunError, match="not JSON"):
        load_run(ref_for(path))


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    data = raw_run()
    data["benchmarks"][0]["extra_info"]["schema"] = "ff-bench/99"
    with pytest.raises(BadRunError, match="ff-bench/99"):
        load_run(ref_for(write(tmp_path / "0001_x.json", data)))


def test_case_not_following_the_schema_is_refused(tmp_path: Path) -> None:
    data = raw_run()
    del data["benchmarks"][0]["extra_info"]["seconds"]["train"]
    with pytest.raises(BadRunError, match=r"missing seconds\.train"):
        load_run(ref_for(write(tmp_path / "0001_x.json", data)))


def test_damaged_per_epoch_times_are_refused(tmp_path: Path) -> None:
    data = raw_run()
    per_epoch = data["benchmarks"][0]["extra_info"]["compute"]["per_epoch"]
    per_epoch[next(iter(per_epoch))] = ["fast", "slow"]
    with pytest.raises(BadRunError, match="per_epoch"):
        load_run(ref_for(write(tmp_path / "0001_x.json", data)))


def test_missing_stats_are_refused(tmp_path: Path) -> None:
    data = raw_run()
    del data["benchmarks"][0]["stats"]
    with pytest.raises(BadRunError, match="no timing stats"):
        load_run(ref_for(write(tmp_path / "0001_x.json", data)))


def test_storage_accepts_pytest_benchmark_file_urls() -> None:
    from ff_algos.report.cli import storage_path

    assert storage_path("file://.benchmarks") == Path(".benchmarks")
    assert storage_path("/data/bench") == Path("/data/bench")

"""``ff-bench report`` end to end through ``ff_algos.cli.main``: tables, report.md, summary.json,
figures, the report folder rule, merging runs, and one-line errors."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ff_algos import registry
from ff_algos.cli import main
from ff_algos.method import recipe_dict
from ff_algos.report.study import dataset_label, study_accuracy

RUNS = Path(__file__).parent / "fixtures" / "runs"
MACHINE = "Linux-CPython-3.11-64bit"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fixture_runs() -> list[Path]:
    """Real saved runs of the suite (two CPU runs of the quick recipe, seeds 0 and 1)."""
    return sorted(RUNS.glob("*/[0-9][0-9][0-9][0-9]_*.json"))


def raw(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def save(storage: Path, name: str, data: dict[str, Any]) -> Path:
    path = storage / MACHINE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def reference(data: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """extra_info of a run's ff-bench cases by (dataset, method): the plain reference grouping."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        if str(info.get("schema", "")).startswith("ff-bench/"):
            groups.setdefault((info["dataset"], info["method"]), []).append(info)
    return groups


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_report_tables_markdown_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fixture_runs()[0]
    data = raw(path)
    out_dir = tmp_path / "out"
    status, out, err = run_cli(["report", str(path), "--out", str(out_dir), "--no-figures"], capsys)
    assert status == 0, err
    markdown = (out_dir / "report.md").read_text(encoding="utf-8")
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    groups = reference(data)

    for title in (
        "Accuracy",
        "Time",
        "FF / backprop",
        "Cost: compute and memory",
        "power and energy",
    ):
        assert title in out
        assert title in markdown
    for (dataset, method), infos in groups.items():
        label = dataset_label(dataset)
        assert label in out
        assert label in markdown
        study = study_accuracy(method, dataset)
        if study is not None:
            assert f"{study.train:.3f} / {study.test:.3f}" in markdown
        measured = f"{mean([i['accuracy']['train'] for i in infos]):.3f} / "
        measured += f"{mean([i['accuracy']['test'] for i in infos]):.3f}"
        assert measured in out
        assert measured in markdown

    # summary.json: the same numbers as the saved run, nulls stay null (never 0)
    assert summary["format"] == "ff-bench-report/1"
    assert summary["runs"][0]["file"] == path.name
    by_key = {(g["dataset"], g["method"]): g for g in summary["groups"]}
    assert set(by_key) == set(groups)
    for key, infos in groups.items():
        metrics = by_key[key]["metrics"]
        assert metrics["accuracy.test"] == pytest.approx(
            mean([i["accuracy"]["test"] for i in infos])
        )
        assert metrics["seconds.end_to_end"] == pytest.approx(
            mean([i["seconds"]["end_to_end"] for i in infos])
        )
        epochs = [[s for p in i["compute"]["per_epoch"].values() for s in p] for i in infos]
        assert metrics["compute.per_epoch_mean"] == pytest.approx(mean([mean(e) for e in epochs]))
        for field in ("power.mean_w", "energy.joules", "memory.nvml_used_peak_bytes"):
            section, name = field.split(".")
            if all(i[section][name] is None for i in infos):
                assert metrics[field] is None
                assert field in by_key[key]["unavailable"]
                assert "n/a" in markdown
        if key[1] == "ff":
            for phase in infos[0]["compute"]["per_epoch"]:
                total = mean([sum(i["compute"]["per_epoch"][phase]) for i in infos])
                assert by_key[key]["phases"][phase]["total"] == pytest.approx(total)
    for ratio in summary["ratios_ff_over_bp"]:
        ff = groups[(ratio["dataset"], "ff")]
        bp = groups[(ratio["dataset"], "bp")]
        expected = mean([i["seconds"]["end_to_end"] for i in ff]) / mean(
            [i["seconds"]["end_to_end"] for i in bp]
        )
        assert ratio["seconds.end_to_end"] == pytest.approx(expected)

    # the saved run is copied, byte for byte, into the report's own storage folder
    machine = path.parent.name if path.parent.name.startswith("Linux") else MACHINE
    assert (out_dir / "runs" / machine / path.name).read_bytes() == path.read_bytes()


def test_recipe_statement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = raw(fixture_runs()[0])
    recipes = {b["extra_info"]["recipe"]["name"] for b in data["benchmarks"]}
    status, out, _ = run_cli(
        ["report", str(fixture_runs()[0]), "--out", str(tmp_path / "a"), "--no-figures"], capsys
    )
    assert status == 0
    for name in recipes:
        assert f"recipe '{name}'" in out
    assert ("not like for like" in out) == (recipes != {"seed"})

    seeded = copy.deepcopy(data)
    for bench in seeded["benchmarks"]:
        info = bench["extra_info"]
        info["recipe"] = recipe_dict(registry.recipe(info["method"], "seed"))
    path = save(tmp_path / "store", "0001_seeded.json", seeded)
    status, out, _ = run_cli(
        ["report", str(path), "--out", str(tmp_path / "b"), "--no-figures"], capsys
    )
    assert status == 0
    assert "like for like" in out
    assert "not like for like" not in out


def test_measured_power_and_energy_are_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = copy.deepcopy(raw(fixture_runs()[0]))
    info = data["benchmarks"][0]["extra_info"]
    info["power"] = {"method": "nvml", "samples": 40, "mean_w": 250.0, "max_w": 300.0}
    per_point = 1234.0 / (100 * info["accuracy"]["test"])
    info["energy"] = {
        "method": "nvml_counter",
        "joules": 1234.0,
        "joules_per_accuracy_point": per_point,
        "joules_per_test_point": 0.5,
    }
    for key in ("power.method", "power.mean_w", "power.max_w", "energy.method", "energy.joules",
                "energy.joules_per_accuracy_point", "energy.joules_per_test_point"):  # fmt: skip
        info["unavailable"].pop(key, None)
    path = save(tmp_path / "store", "0001_gpu.json", data)
    out_dir = tmp_path / "out"
    status, out, _ = run_cli(["report", str(path), "--out", str(out_dir), "--no-figures"], capsys)
    assert status == 0
    assert "250 W" in out
    assert "300 W" in out
    assert "1.23 kJ" in out
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    first = next(
        g for g in summary["groups"] if g["cases"][0]["name"] == data["benchmarks"][0]["name"]
    )
    assert first["metrics"]["energy.joules_per_accuracy_point"] == pytest.approx(per_point)
    others = [g for g in summary["groups"] if g is not first]
    assert all(g["metrics"]["energy.joules"] is None for g in others)  # still n/a, not 0


def test_default_folder_latest_run_and_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first, second = fixture_runs()[:2]
    save(tmp_path / ".benchmarks", "0001_alpha.json", raw(first))
    save(tmp_path / ".benchmarks", "0002_beta.json", raw(second))
    status, out, err = run_cli(["report"], capsys)
    assert status == 0, err
    folder = tmp_path / "reports" / "0002_beta"  # the latest run, named after its file
    assert "report written to reports/0002_beta" in out
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["figures"]
    for name in summary["figures"]:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 10_000
        assert f"]({name})" in (folder / "report.md").read_text(encoding="utf-8")

    # the same report again: regenerated in place
    assert run_cli(["report", "2", "--no-figures"], capsys)[0] == 0
    assert not list(folder.glob("*.png"))  # figures of the earlier version are not left stale
    # another run into the same folder: refused in one line, then allowed with --force
    status, _, err = run_cli(["report", "1", "--out", str(folder), "--no-figures"], capsys)
    assert status == 2
    assert err.count("\n") == 1
    assert "--force" in err
    assert "Traceback" not in err
    assert run_cli(["report", "1", "--out", str(folder), "--no-figures", "--force"], capsys)[0] == 0
    # both saved runs are kept in the forced folder
    assert len(list((folder / "runs").rglob("*.json"))) == 2


def test_merging_runs_uses_the_later_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = raw(fixture_runs()[0])
    later = copy.deepcopy(data)
    later["datetime"] = "2999-01-01T00:00:00+00:00"
    kept = data["benchmarks"][0]["name"]
    later["benchmarks"] = [b for b in later["benchmarks"] if b["name"] != kept]
    store = tmp_path / "store"
    save(store, "0001_old.json", data)
    save(store, "0002_new.json", later)
    out_dir = tmp_path / "out"
    status, out, _ = run_cli(
        ["report", "old", "new", "--storage", str(store), "--out", str(out_dir), "--no-figures"],
        capsys,
    )
    assert status == 0
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    runs = {c["name"]: c["run"] for g in summary["groups"] for c in g["cases"]}
    assert runs[kept].endswith("0001_old")
    assert all(run.endswith("0002_new") for name, run in runs.items() if name != kept)
    assert "(the later run)" in out
    assert out_dir.name == "out"
    assert (out_dir / "runs" / MACHINE / "0002_new.json").is_file()


def test_without_matplotlib_tables_and_markdown_still_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out_dir = tmp_path / "out"
    status, out, _ = run_cli(["report", str(fixture_runs()[0]), "--out", str(out_dir)], capsys)
    assert status == 0
    assert "pip install 'ff-bench[plots]'" in out
    assert "pip install 'ff-bench[plots]'" in (out_dir / "report.md").read_text(encoding="utf-8")
    assert json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))["figures"] == []
    assert not list(out_dir.glob("*.png"))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["report", "--storage", "{tmp}/empty"], "no saved runs in"),
        (["report", "nothing-like-this", "--storage", "{tmp}/store"], "saved runs: "),
        (["report", "{tmp}/not-a-run.json"], "is not a saved pytest-benchmark run"),
        (["report", "{tmp}/store"], "is a folder, not a saved run"),
        (["compare", "1", "nothing-like-this", "--storage", "{tmp}/store"], "no saved run matches"),
        (["compare", "1", "1", "--storage", "{tmp}/store", "--slowdown", "-1"], "--slowdown"),
        (["compare", "1", "1", "--slowdown=0"], "argument --slowdown: expected a ratio above 0"),
        (["compare", "1", "1", "--slowdown=inf"], "argument --slowdown: expected a ratio above"),
        (["compare", "1", "1", "--accuracy-tol=-0.5"], "argument --accuracy-tol: expected a"),
        (["compare", "1", "1", "--accuracy-tol=nan"], "fraction of at least 0, e.g. 0.01, not"),
        (["report", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "not-a-run.json").write_text('{"hello": "world"}', encoding="utf-8")
    save(tmp_path / "store", "0001_quick-a.json", raw(fixture_runs()[0]))
    status, out, err = run_cli([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert status == 2
    assert err.startswith("ff-bench: error: ")
    assert err.count("\n") == 1
    assert expected in err
    assert "Traceback" not in err + out
    if "saved runs: " in expected:
        assert "0001_quick-a" in err  # what exists is listed

"""Runs with several seeds (``--seeds N``): report cells show ``mean ± half-width (n=k)``,
``summary.json`` the spread per metric, figures error bars, and ``ff-bench compare`` flags an
accuracy drop only when it falls outside the seeds' spread (Welch's test)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ff_algos.cli import main
from ff_algos.report.cases import CaseGroup, group_cases
from ff_algos.report.compare import Thresholds, compare_runs
from ff_algos.report.figures import ERROR_BARS, draw_figures
from ff_algos.report.runs import SavedRun, load_run, ref_for
from ff_algos.report.sections import accuracy_table, time_table

RUNS = Path(__file__).parent / "fixtures" / "runs"
MACHINE = "Linux-CPython-3.11-64bit"
# mnist FF test accuracy over three seeds: mean 0.91, sd 0.01, half-width 0.0248 (t 4.303)
BASE = [0.90, 0.91, 0.92]
INSIDE = [0.88, 0.89, 0.90]  # 0.02 lower: Welch t 2.45 <= 2.78 (df 4), inside the spread
OUTSIDE = [0.86, 0.87, 0.88]  # 0.04 lower: Welch t 4.90 > 2.78, outside it


def fixture_run() -> dict[str, Any]:
    """The first real saved run of the suite (quick recipe, seed 0, both methods, two datasets)."""
    path = sorted(RUNS.glob("*/[0-9][0-9][0-9][0-9]_*.json"))[0]
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def seeded(seeds: int, tests: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """The fixture run as if run with ``--seeds N``: each case copied per seed as
    ``test_fit[<dataset>-<method>-seed<k>]``. For the cases named in ``tests`` (``"mnist-ff"``)
    the test accuracy of seed k is ``tests[name][k]`` and train accuracy 0.005 above it."""
    data = fixture_run()
    benchmarks = []
    for bench in data["benchmarks"]:
        case_id = bench["name"].split("[")[1].rsplit("-seed", 1)[0]
        for k in range(seeds):
            copied = copy.deepcopy(bench)
            copied["name"] = f"test_fit[{case_id}-seed{k}]"
            copied["fullname"] = bench["fullname"].replace(bench["name"], copied["name"])
            info = copied["extra_info"]
            info["seed"] = info["recipe"]["seed"] = k
            if tests and case_id in tests:
                info["accuracy"]["test"] = tests[case_id][k]
                info["accuracy"]["train"] = tests[case_id][k] + 0.005
            benchmarks.append(copied)
    data["benchmarks"] = benchmarks
    return data


def save(storage: Path, name: str, data: dict[str, Any]) -> Path:
    path = storage / MACHINE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run_of(tmp_path: Path, name: str, data: dict[str, Any]) -> SavedRun:
    return load_run(ref_for(save(tmp_path / "store", name, data)))


def groups(run: SavedRun) -> dict[tuple[str, str], CaseGroup]:
    return {(g.dataset, g.method): g for g in group_cases(run.cases)}


def test_group_cells_show_the_interval_and_single_seeds_the_value(tmp_path: Path) -> None:
    several = groups(run_of(tmp_path, "0001_s.json", seeded(3, {"mnist-ff": BASE})))
    one = groups(run_of(tmp_path, "0002_o.json", seeded(1, {"mnist-ff": BASE})))
    mixed = [several[("mnist", "ff")], one[("mnist", "bp")]]
    table = accuracy_table(mixed)
    measured = {row[0]: row[2] for row in table.rows if row[1] == "measured"}
    # train 0.915 ± 0.025, test 0.910 ± 0.025 (half-width 0.0248), three seeds
    assert measured["FF"] == "0.915 ± 0.025 / 0.910 ± 0.025 (n=3)"
    bp = one[("mnist", "bp")].cases[0].record.accuracy
    assert measured["backprop"] == f"{bp.train:.3f} / {bp.test:.3f}"  # as before: no ±
    assert any("95% confidence interval" in note for note in table.notes)
    # the difference from the study keeps the interval's half-width
    diff = next(row[2] for row in table.rows if row[0] == "FF" and row[1].startswith("Δ"))
    assert diff.endswith("± 0.025 (n=3)")

    times = {row[1]: row for row in time_table(mixed).rows}
    assert times["FF"][2].endswith("(n=3)")  # end to end
    assert " ± " in times["FF"][2]
    assert " ± " not in times["backprop"][2]
    assert "(n=" not in times["backprop"][2]
    only_one = accuracy_table([one[("mnist", "bp")]])
    assert not any("95% confidence interval" in note for note in only_one.notes)


def test_report_and_summary_over_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save(tmp_path / "store", "0001_seeds.json", seeded(3, {"mnist-ff": BASE}))
    out_dir = tmp_path / "out"
    assert main(["report", str(path), "--out", str(out_dir), "--no-figures"]) == 0
    out = capsys.readouterr().out
    markdown = (out_dir / "report.md").read_text(encoding="utf-8")
    for text in (out, markdown):
        assert "0.915 ± 0.025 / 0.910 ± 0.025 (n=3)" in text
        assert "Student's t" in text
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    assert "95%" in summary["spread_interval"]
    ff = next(g for g in summary["groups"] if (g["dataset"], g["method"]) == ("mnist", "ff"))
    assert ff["seeds"] == [0, 1, 2]
    test = ff["metrics_spread"]["accuracy.test"]
    assert test["n"] == 3
    assert test["mean"] == pytest.approx(0.91)
    assert test["mean"] == pytest.approx(ff["metrics"]["accuracy.test"])
    assert test["half_width"] == pytest.approx(0.024842, abs=1e-6)
    assert (test["min"], test["max"]) == pytest.approx((0.90, 0.92))
    # unmeasured metrics have no spread, never a zero one
    assert "power.mean_w" not in ff["metrics_spread"]


def test_a_single_seed_summary_has_no_spread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save(tmp_path / "store", "0001_one.json", seeded(1))
    assert main(["report", str(path), "--out", str(tmp_path / "out"), "--no-figures"]) == 0
    assert "(n=" not in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert all(g["metrics_spread"] == {} for g in summary["groups"])


def accuracy_rows(table_rows: tuple[tuple[str, ...], ...], label: str) -> list[tuple[str, ...]]:
    """The accuracy rows of one compared group."""
    rows, current = [], ""
    for row in table_rows:
        current = row[0] or current
        if current == label and "accuracy" in row[1]:
            rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("b_tests", "flagged"),
    [(BASE, False), (INSIDE, False), (OUTSIDE, True)],
    ids=["same", "inside-the-spread", "outside-the-spread"],
)
def test_compare_flags_a_drop_only_outside_the_spread(
    tmp_path: Path, b_tests: list[float], flagged: bool
) -> None:
    a = run_of(tmp_path, "0001_a.json", seeded(3, {"mnist-ff": BASE}))
    b = run_of(tmp_path, "0002_b.json", seeded(3, {"mnist-ff": b_tests}))
    result = compare_runs(a, b, Thresholds(accuracy_tol=0.01))
    rows = accuracy_rows(result.table.rows, "MNIST FF")
    assert [r[1] for r in rows] == ["train accuracy", "test accuracy"]
    for row in rows:
        assert row[6].startswith("Welch t ")  # the rule used, in its row
        assert row[2].endswith("(n=3)")
        assert row[3].endswith("(n=3)")
        assert bool(row[5]) == flagged
    # train and test drop alike; nothing else changed
    assert len(result.flags) == (2 if flagged else 0)
    assert all("Welch" in f.what for f in result.flags)
    # the drop of INSIDE (0.02) exceeds the tolerance: a single seed would have been flagged
    single = compare_runs(
        run_of(tmp_path, "0003_a1.json", seeded(1, {"mnist-ff": BASE})),
        run_of(tmp_path, "0004_b1.json", seeded(1, {"mnist-ff": b_tests})),
        Thresholds(accuracy_tol=0.01),
    )
    assert [r[6] for r in accuracy_rows(single.table.rows, "MNIST FF")] == ["threshold"] * 2
    assert len(single.flags) == (0 if b_tests == BASE else 2)


def test_compare_keeps_the_threshold_where_one_run_has_one_seed(tmp_path: Path) -> None:
    a = run_of(tmp_path, "0001_a.json", seeded(3, {"mnist-ff": BASE}))
    b = run_of(tmp_path, "0002_b.json", seeded(1, {"mnist-ff": INSIDE}))
    result = compare_runs(a, b, Thresholds(accuracy_tol=0.01))
    # only seed 0 is in both runs: 0.90 -> 0.88, a drop of 0.02 > 0.01 by the threshold rule
    rows = accuracy_rows(result.table.rows, "MNIST FF")
    assert [r[6] for r in rows] == ["threshold", "threshold"]
    assert [r[5] for r in rows] == ["dropped 0.020 > 0.01"] * 2
    assert "missing from B" in " ".join(str(f) for f in result.flags)  # seeds 1 and 2


def test_compare_exit_code_and_rule_in_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    save(store, "0001_a.json", seeded(3, {"mnist-ff": BASE}))
    save(store, "0002_inside.json", seeded(3, {"mnist-ff": INSIDE}))
    save(store, "0003_outside.json", seeded(3, {"mnist-ff": OUTSIDE}))
    argv = ["compare", "--storage", str(store), "--fail-on-regression", "1"]
    assert main([*argv, "2"]) == 0
    out = capsys.readouterr().out
    assert "nothing flagged" in out
    assert "Welch t 2.45 ≤ 2.78" in out
    assert "Welch's t-test" in out  # the rule, in the table's notes
    assert main([*argv, "3"]) == 1
    out = capsys.readouterr().out
    assert "FLAGGED MNIST FF: test accuracy dropped 0.040 > 0.01 (Welch t 4.90 > 2.78)" in out


def test_figures_draw_error_bars_for_several_seeds(tmp_path: Path) -> None:
    from matplotlib.container import BarContainer, ErrorbarContainer
    from matplotlib.figure import Figure

    def draw(run: SavedRun) -> dict[str, Any]:
        saved: dict[str, Any] = {}
        original = Figure.savefig

        def record(self: Figure, *args: Any, **kwargs: Any) -> None:
            saved[self.get_suptitle() or self.axes[0].get_title()] = self
            original(self, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Figure, "savefig", record)
            pngs = draw_figures(group_cases(run.cases), "Device: test")
        assert pngs is not None
        assert len(pngs) == len(saved)
        return saved

    def error_bars(fig: Any) -> int:
        bars = [
            c
            for ax in fig.axes
            for c in ax.containers
            if isinstance(c, BarContainer) and c.errorbar is not None
        ]
        lines = [
            c
            for ax in fig.axes
            for c in ax.containers
            if isinstance(c, ErrorbarContainer) and c.has_yerr
        ]
        return len(bars) + len(lines)

    several = draw(run_of(tmp_path, "0001_s.json", seeded(3, {"mnist-ff": BASE})))
    one = draw(run_of(tmp_path, "0002_o.json", seeded(1)))
    assert set(several) == set(one)
    for title, fig in several.items():
        assert error_bars(fig) > 0, title
        assert error_bars(one[title]) == 0, title
        texts = [t.get_text() for t in fig.texts]
        assert any(ERROR_BARS in t for t in texts), title
        assert not any(ERROR_BARS in t.get_text() for t in one[title].texts), title
    accuracy = next(f for t, f in several.items() if t.startswith("Accuracy"))
    ff_panel = accuracy.axes[0]
    test_bars = next(c for c in ff_panel.containers if c.get_label() == "FF test")
    # the MNIST bar's error bar spans the interval 0.91 ± 0.0248
    segment = test_bars.errorbar.lines[2][0].get_segments()[0]
    assert [y for _, y in segment] == pytest.approx([0.885158, 0.934842], abs=1e-6)

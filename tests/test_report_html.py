"""``report.html`` and ``ff-bench compare --html`` as files: every table of ``report.md`` with the
same cells, the figures with the data points the runs hold, nothing loaded from a URL, under the
size bound, and the report folder rule. The browser's view is tests/test_report_browser.py."""

from __future__ import annotations

import copy
import json
import math
import re
import statistics
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ff_algos.cli import main
from ff_algos.report.html import sort_key

RUNS = Path(__file__).parent / "fixtures" / "runs"
MACHINE = "Linux-CPython-3.11-64bit"
REPO = Path(__file__).resolve().parent.parent
PUBLISHED = sorted(REPO.glob("reports/**/report.html")) + sorted(
    REPO.glob("reports/**/compare*.html")
)
SIZE_BOUND = 6 * 2**20  # bytes: one page, plotly.js included
T_975_DF1 = 12.706204736  # the t quantile at 0.975 for one degree of freedom (two seeds)

plotly = pytest.importorskip("plotly", reason="plotly (the plots extra) is not installed")


class Page(HTMLParser):
    """The parts of a page the tests read: tags with attributes, tables as cell texts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[list[str]]] = {}  # id -> rows (header first)
        self.titles: dict[str, str] = {}  # heading id -> text
        self.cell_attrs: dict[str, list[list[dict[str, str | None]]]] = {}
        self.figures_json = ""
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._heading: str | None = None
        self._in_json = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag == "table":
            self._table = found.get("id") or ""
            self.tables[self._table] = []
            self.cell_attrs[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
            self.cell_attrs[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
            self.cell_attrs[self._table][-1].append(found)
        elif tag in ("h3", "h2") and found.get("id"):
            self._heading = found["id"]
            self.titles[self._heading or ""] = ""
        elif tag == "script" and found.get("id") == "ffb-figures":
            self._in_json = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table is not None and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag in ("h3", "h2"):
            self._heading = None
        elif tag == "script":
            self._in_json = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self.titles[self._heading] += data
        if self._in_json:
            self.figures_json += data

    def figures(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = json.loads(self.figures_json)
        return value


def make(storage: Path, out: Path, *runs: str, extra: tuple[str, ...] = ()) -> Path:
    assert main(["report", *runs, "--storage", str(storage), "--out", str(out), *extra]) == 0
    return out


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RUNS / MACHINE / name).read_text(encoding="utf-8"))
    return data


def markdown_tables(markdown: str) -> dict[str, list[list[str]]]:
    """``### title`` -> rows of cells (header first, the alignment row left out)."""
    out: dict[str, list[list[str]]] = {}
    title = None
    for line in markdown.splitlines():
        if line.startswith("### "):
            title = line[4:]
        elif line.startswith("|") and title is not None:
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                out.setdefault(title, []).append(cells)
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, two_seed_runs: Path) -> Path:
    """The report of the fixture runs as two seeds of one run (spreads, error bars)."""
    folder = tmp_path_factory.mktemp("report")
    return make(two_seed_runs, folder, "two-seeds")


def test_every_markdown_table_is_in_the_page_with_the_same_cells(
    report: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    page = Page((report / "report.html").read_text(encoding="utf-8"))
    expected = markdown_tables((report / "report.md").read_text(encoding="utf-8"))
    tables = {page.titles[f"{i}-title"]: rows for i, rows in page.tables.items()}
    assert set(expected) <= set(tables)
    for title, rows in expected.items():
        header = [c or "·" for c in rows[0]]  # an empty header is drawn as a dot, to click
        assert tables[title][0] == header, title
        assert tables[title][1:] == rows[1:], title
    # the runs table: machine, GPU, versions and commit of each run
    runs = tables["Runs"]
    assert [r[0] for r in runs[1:]][:6] == ["saved", "device", "CPU", "GPU", "software", "commit"]
    assert "torch" in runs[5][1]
    # spreads over the two seeds are kept as printed: mean ± half-width (n=2)
    assert any("(n=2)" in c for r in tables["Time"] for c in r)


def test_na_cells_carry_their_reason(report: Path) -> None:
    page = Page((report / "report.html").read_text(encoding="utf-8"))
    titles = {page.titles[f"{i}-title"]: i for i in page.tables}
    ident = titles["Cost: power and energy"]
    na = [
        a
        for row, attrs in zip(page.tables[ident][1:], page.cell_attrs[ident][1:], strict=True)
        for cell, a in zip(row, attrs, strict=True)
        if cell == "n/a"
    ]
    assert na
    for attrs in na:
        assert "na" in (attrs.get("class") or "").split()
        assert "device is cpu" in (attrs.get("title") or "")


def test_figures_hold_the_points_of_the_runs(report: Path) -> None:
    page = Page((report / "report.html").read_text(encoding="utf-8"))
    figures = {f["id"].removeprefix("fig-"): f for f in page.figures()}
    pngs = {p.stem for p in report.glob("*.png")}
    assert set(figures) == pngs  # one interactive twin per PNG figure
    drawn = {
        a["id"]: int(a["data-points"] or 0)
        for t, a in page.tags
        if t == "div" and "data-points" in a
    }
    a, b = raw("0001_quick-a.json"), raw("0002_quick-b.json")  # seeds 0 and 1
    cases = [
        (x["extra_info"], y["extra_info"])
        for x, y in zip(a["benchmarks"], b["benchmarks"], strict=True)
    ]
    # end to end: one bar per dataset and method, height the mean of the two seeds, error bar
    # the half-width of the 95% t interval
    bars = figures["time_end_to_end"]["data"]
    assert sum(len(t["y"]) for t in bars) == len(cases) == drawn["fig-time_end_to_end"]
    for x, y in cases:
        trace = next(t for t in bars if t["name"] == ("FF" if x["method"] == "ff" else "backprop"))
        index = trace["x"].index("MNIST" if x["dataset"] == "mnist" else "FashionMNIST")
        values = [x["seconds"]["end_to_end"], y["seconds"]["end_to_end"]]
        # stored to 6 significant figures
        assert trace["y"][index] == pytest.approx(statistics.fmean(values), rel=1e-5)
        half = T_975_DF1 * statistics.stdev(values) / math.sqrt(2)
        assert trace["error_y"]["array"][index] == pytest.approx(half, rel=1e-5)
        assert "(n=2)" in trace["customdata"][index]
        assert " s" in trace["customdata"][index]  # the unit, in the hover text
    # compute per epoch: one marker per epoch of every phase of every case
    epochs = sum(len(p) for x, _ in cases for p in x["compute"]["per_epoch"].values())
    per_epoch = figures["compute_per_epoch"]["data"]
    assert sum(len(t["y"]) for t in per_epoch) == epochs == drawn["fig-compute_per_epoch"]
    # FF per layer: one bar per layer and FF case, and the total of the layers
    ff = [x for x, _ in cases if x["method"] == "ff"]
    layers = {p for x in ff for p in x["compute"]["per_epoch"]}
    assert drawn["fig-time_ff_layers"] == len(ff) * (len(layers) + 1)
    # memory: the CPU runs have a host RSS peak and no GPU memory or energy (n/a, not 0)
    memory = {t["name"]: t for t in figures["memory_energy"]["data"]}
    assert all(v is not None for v in memory["host RSS peak"]["y"])
    assert all(v is None for v in memory["NVML used peak"]["y"])
    assert all(v is None for v in memory["training-stage energy"]["y"])
    assert any("device is cpu" in c for c in memory["training-stage energy"]["customdata"])
    assert drawn["fig-memory_energy"] == len(cases)


def test_page_loads_nothing_from_a_url(report: Path) -> None:
    text = (report / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    for tag, attrs in page.tags:
        if tag in ("script", "link", "img", "iframe"):
            assert not attrs.get("src"), (tag, attrs)
            assert not (attrs.get("href") or "").startswith(("http:", "https:", "//")), attrs
    assert not [a for t, a in page.tags if t == "link"]
    assert text.count("<script") == 3  # plotly.js once, the figures' data, the page's script


def test_page_size_is_bounded(report: Path) -> None:
    assert (report / "report.html").stat().st_size < SIZE_BOUND


@pytest.mark.parametrize("path", PUBLISHED, ids=[str(p.relative_to(REPO)) for p in PUBLISHED])
def test_published_pages_are_bounded_and_offline(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.encode()) < SIZE_BOUND
    page = Page(text)
    assert not [a for t, a in page.tags if t in ("script", "link") and a.get("src")]
    figures = page.figures()
    assert len(figures) == sum(1 for t, a in page.tags if t == "div" and "data-points" in a)


def test_sort_keys_read_units() -> None:
    assert sort_key("12 ms") == pytest.approx(0.012)
    assert sort_key("1.5 GiB ± 0.1 GiB (n=2)") == pytest.approx(1.5 * 2**30)
    assert sort_key("3.41×") == pytest.approx(3.41)
    assert sort_key("−0.020") == pytest.approx(-0.02)
    assert sort_key("0.912 / 0.905 (n=2)") == pytest.approx(0.912)
    assert sort_key("1.23 TFLOP/s") == pytest.approx(1.23e12)
    assert sort_key("456 W") == pytest.approx(456)
    assert sort_key("7.8 kJ") == pytest.approx(7800)
    assert sort_key("789 µs") == pytest.approx(789e-6)
    assert sort_key("12.3 %") == pytest.approx(0.123)
    assert sort_key("n/a") is None
    assert sort_key("—") is None


def test_no_figures_still_writes_the_tables(tmp_path: Path) -> None:
    folder = make(RUNS, tmp_path / "r", "quick-a", extra=("--no-figures",))
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    assert page.figures() == []
    assert len(page.tables) >= 5


def test_without_plotly_no_page_and_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ff_algos.report.build as build

    monkeypatch.setattr(build, "plotly_js", lambda: None)
    capsys.readouterr()
    folder = make(RUNS, tmp_path / "r", "quick-a", extra=("--no-figures",))
    assert not (folder / "report.html").exists()
    assert "report.html skipped: plotly is not installed" in capsys.readouterr().out


def test_regenerating_replaces_the_page_in_place(tmp_path: Path) -> None:
    folder = make(RUNS, tmp_path / "r", "quick-a", extra=("--no-figures",))
    (folder / "report.html").write_text("stale", encoding="utf-8")
    make(RUNS, folder, "quick-a", extra=("--no-figures",))
    assert (folder / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left


def test_machine_and_recipe_filters_when_runs_differ(
    two_machine_runs: Path, tmp_path: Path
) -> None:
    folder = make(two_machine_runs, tmp_path / "r", "cpu", "gpu", extra=("--no-figures",))
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    selects = {a.get("id") for t, a in page.tags if t == "select"}
    assert {"filter-machine", "filter-recipe", "filter-dataset", "filter-method"} <= selects
    # the Runs table: one machine per run column
    machines = {a.get("data-machine") for row in page.cell_attrs["table-0"] for a in row}
    assert len(machines - {None}) == 2
    assert any("NVIDIA H100 80GB HBM3" in (m or "") for m in machines)
    # every method cell of the other tables names its recipe and machine
    titles = {page.titles[f"{i}-title"]: i for i in page.tables}
    time = titles["Time"]
    for row, attrs in zip(page.tables[time][1:], page.cell_attrs[time][1:], strict=True):
        recipe = attrs[1]["data-recipe"]
        assert row[1].endswith(f"({recipe})")
        where = json.loads(attrs[1]["data-machines"] or "[]")
        assert len(where) == 1
        assert ("H100" in where[0]) == (recipe == "other")


def _slower_copy(tmp_path: Path) -> Path:
    """A storage with quick-a and a copy of it whose end-to-end and train times doubled."""
    storage = tmp_path / "storage"
    (storage / MACHINE).mkdir(parents=True)
    a = raw("0001_quick-a.json")
    b = copy.deepcopy(a)
    for bench in b["benchmarks"]:
        for key in ("end_to_end", "train"):
            bench["extra_info"]["seconds"][key] *= 2
    (storage / MACHINE / "0001_base.json").write_text(json.dumps(a), encoding="utf-8")
    (storage / MACHINE / "0002_slow.json").write_text(json.dumps(b), encoding="utf-8")
    return storage


def test_compare_page_highlights_regressions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = _slower_copy(tmp_path)
    out = tmp_path / "compare.html"
    argv = ["compare", "base", "slow", "--storage", str(storage), "--html", str(out)]
    assert main(argv) == 0
    assert f"comparison page written to {out}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert len(text.encode()) < SIZE_BOUND
    runs = page.tables["table-runs"]
    assert [c.split()[0] for c in runs[0][1:]] == ["A", "B"]
    assert {"CPU", "GPU", "software", "commit"} <= {r[0] for r in runs[1:]}
    rows = page.tables["table-0"]
    flagged = [
        r
        for r, attrs in zip(rows[1:], page.cell_attrs["table-0"][1:], strict=True)
        if any("flag" in (a.get("class") or "").split() for a in attrs) and r[5]
    ]
    assert flagged
    assert all(r[1] in ("end to end", "train") and "slower" in r[5] for r in flagged)
    assert text.count('class="flagged"') == len(flagged)
    assert "change(s) flagged" in text
    ratios = next(f for f in page.figures() if f["id"] == "fig-compare_time")
    assert all(v == pytest.approx(2.0) for t in ratios["data"] for v in t["y"])
    # each row names its case, so a sorted table keeps rows whole
    assert all(r[0] for r in rows[1:])


def test_compare_html_target_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = _slower_copy(tmp_path)
    foreign = tmp_path / "notes.html"
    foreign.write_text("<html>mine</html>", encoding="utf-8")
    argv = ["compare", "base", "slow", "--storage", str(storage), "--html"]
    assert main([*argv, str(foreign)]) == 2
    assert "is not a page of ff-bench compare" in capsys.readouterr().err
    assert foreign.read_text(encoding="utf-8") == "<html>mine</html>"
    assert main([*argv, str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    # checked before any run is read: a missing run does not hide the target's problem
    assert main(["compare", "base", "nope", "--storage", str(storage), "--html", str(foreign)]) == 2
    assert "is not a page of ff-bench compare" in capsys.readouterr().err
    page = tmp_path / "compare.html"
    assert main([*argv, str(page)]) == 0
    first = page.read_bytes()
    assert main([*argv, str(page)]) == 0  # an earlier comparison page is replaced
    assert page.read_bytes() == first

"""``report.html`` and the comparison page in a real browser: Debian's Chromium, headless, driven
over the Chrome DevTools Protocol (``websocket-client``), opened from ``file://`` with every
network request refused.

Checked: no JavaScript error or console error, no request that is not ``file:`` or ``data:``,
every figure drawn with as many points as its data holds (bars, markers, heatmap cells counted in
the drawn SVG), a table sorted by a mouse click on its header, a series hidden by a click on its
legend entry, and a screenshot written. The published reports under ``reports/`` are opened too,
with their load times printed.

Install the browser with ``.ci/browser-up`` (root; CI does). Where Chromium cannot be started the
tests skip with the reason, or fail when ``FF_BENCH_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ff_algos.cli import main
from ff_algos.report.build import make_report

REPO = Path(__file__).resolve().parent.parent
RUNS = Path(__file__).parent / "fixtures" / "runs"
PUBLISHED = sorted(REPO.glob("reports/**/report.html")) + sorted(
    REPO.glob("reports/**/compare*.html")
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIMEOUT = 60.0  # seconds for the browser to start or a page to draw (2 shared CPU cores)


def _unavailable(
    problem: str, fix: str = "install Debian's chromium with .ci/browser-up (as root)"
) -> None:
    message = f"{problem}; {fix}"
    if os.environ.get("FF_BENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _require(module: str, package: str) -> None:
    try:
        __import__(module)
    except ImportError:
        _unavailable(f"{package} is not installed", "pip install -e '.[dev]'")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    _unavailable("no chromium on PATH")
    raise AssertionError("unreachable")


class Page:
    """One browser tab over the DevTools Protocol: commands, and the events seen so far."""

    def __init__(self, url: str) -> None:
        import websocket

        self._socket = websocket.create_connection(url, timeout=_TIMEOUT, suppress_origin=True)
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Run one command and return its result (events arriving meanwhile are kept)."""
        self._next += 1
        ident = self._next
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the first match."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        x, y = box
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def open(self, path: Path) -> float:
        """Navigate to ``path`` and wait until every figure is drawn; seconds it took."""
        start = time.perf_counter()
        self.send("Page.navigate", url=path.resolve().as_uri())
        while time.perf_counter() - start < _TIMEOUT:
            if self.evaluate("window.ffbReady === true"):
                return time.perf_counter() - start
            time.sleep(0.05)
        raise AssertionError(f"{path}: figures not drawn within {_TIMEOUT:.0f} s")

    def errors(self) -> list[str]:
        """JavaScript exceptions and console or log errors seen so far."""
        out = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(str(params["exceptionDetails"]))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(str(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(str(params["entry"]))
        return out

    def requests(self) -> list[str]:
        """URLs the page asked for."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        self._socket.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """Headless Chromium with one tab, its network cut off (every host resolves nowhere)."""
    _require("websocket", "websocket-client")
    executable = _chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    command = [
        executable,
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--remote-debugging-port=0",
        "--remote-allow-origins=*",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        "about:blank",
    ]
    try:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as error:
        _unavailable(f"chromium did not start: {error}")
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + _TIMEOUT
    while not port_file.is_file() or not port_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            stderr = (process.communicate()[1] or b"").decode(errors="replace").strip()
            _unavailable(f"chromium did not start: {stderr.splitlines()[-1:] or 'no output'}")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.loads(answer.read())
        page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        for domain in ("Runtime", "Log", "Network", "Page"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride", width=1400, height=1000,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        yield page
        page.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Points drawn in one figure: bars with a height (plotly.js draws a missing value as a bar of
# no height), scatter markers, the vertices of lines drawn without markers, heatmap cells with a
# value (plotly.js draws a heatmap as one image; each cell's text is drawn on it, "n/a" where the
# cell is empty).
_DRAWN = """
(id => {
  const gd = document.getElementById(id);
  const bars = Array.from(gd.querySelectorAll('.barlayer .point path')).filter(p => {
    const m = /^M[^,]+,([^V]+)V([^H]+)H/.exec(p.getAttribute('d') || '');
    return m !== null && Math.abs(parseFloat(m[1]) - parseFloat(m[2])) > 0.01;
  }).length;
  const markers = gd.querySelectorAll('.scatterlayer path.point').length;
  const vertices = Array.from(gd.querySelectorAll('.scatterlayer .trace'))
    .filter(t => t.querySelector('path.point') === null)
    .map(t => Array.from(t.querySelectorAll('path.js-line'))
      .map(l => (l.getAttribute('d') || '').split(/[ML]/).filter(Boolean).length)
      .reduce((a, b) => a + b, 0))
    .reduce((a, b) => a + b, 0);
  const cells = Array.from(gd.querySelectorAll('.heatmaplayer text'))
    .filter(t => t.textContent !== 'n/a').length;
  return bars + markers + vertices + cells;
})
"""


def _check_figures(page: Page) -> dict[str, tuple[int, int]]:
    """Every figure's expected and drawn point counts, by id."""
    ids = page.evaluate("Array.from(document.querySelectorAll('.figure')).map(e => e.id)")
    out = {}
    for ident in ids:
        expected = int(page.evaluate(f"document.getElementById('{ident}').dataset.points"))
        drawn = int(page.evaluate(f"{_DRAWN}('{ident}')"))
        out[ident] = (expected, drawn)
    return out


def _clean(page: Page) -> None:
    page.events.clear()


def _offline(page: Page) -> list[str]:
    return [u for u in page.requests() if not u.startswith(("file:", "data:", "about:"))]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, two_seed_runs: Path) -> Path:
    """report.html of the fixture runs (two CPU runs of the quick recipe) as two seeds."""
    _require("plotly", "plotly")
    folder = tmp_path_factory.mktemp("report")
    make_report(["two-seeds"], two_seed_runs, folder, console=Console(file=io.StringIO()))
    return folder / "report.html"


def test_report_in_browser(browser: Page, report: Path, tmp_path: Path) -> None:
    _clean(browser)
    seconds = browser.open(report)
    print(f"{report.name}: {report.stat().st_size} bytes, drawn in {seconds:.2f} s")
    assert browser.errors() == []
    assert _offline(browser) == []

    figures = _check_figures(browser)
    assert len(figures) == 5, figures  # the fixture has no curves, grid or scaling points
    for ident, (expected, drawn) in figures.items():
        assert expected > 0, ident
        assert drawn == expected, (ident, expected, drawn)

    # a sort by a click on the Time table's "end to end" header: rows in order of their values
    table = browser.evaluate(
        "Array.from(document.querySelectorAll('table.ffb')).findIndex(t => "
        "document.getElementById(t.id + '-title').textContent === 'Time')"
    )
    column = browser.evaluate(
        f"Array.from(document.querySelectorAll('table.ffb')[{table}].tHead.rows[0].cells)"
        ".findIndex(c => c.textContent.startsWith('end to end'))"
    )
    assert table >= 0
    assert column >= 0
    selector = f"#table-{table} thead th:nth-child({column + 1}) button"
    keys = (
        f"Array.from(document.querySelectorAll('#table-{table} tbody tr'))"
        f".map(r => parseFloat(r.cells[{column}].dataset.sort))"
    )
    before = browser.evaluate(keys)
    browser.click(selector)
    ascending = browser.evaluate(keys)
    assert ascending == sorted(before)
    browser.click(selector)
    assert browser.evaluate(keys) == sorted(before, reverse=True)
    assert browser.evaluate(f"document.querySelector('{selector}').parentElement"
                            ".getAttribute('aria-sort')") == "descending"  # fmt: skip

    # a click on the first legend entry of the end-to-end figure hides that series
    ident = "fig-time_end_to_end"
    first = int(browser.evaluate(f"document.getElementById('{ident}').data[0].y.length"))
    drawn = figures[ident][1]
    browser.click(f"#{ident} .legend .traces .legendtoggle")
    deadline = time.monotonic() + 10
    while browser.evaluate(f"document.getElementById('{ident}')._fullData[0].visible") is True:
        assert time.monotonic() < deadline, "the legend click did not hide the series"
        time.sleep(0.05)
    assert browser.evaluate(f"document.getElementById('{ident}')._fullData[0].visible") == (
        "legendonly"
    )
    assert int(browser.evaluate(f"{_DRAWN}('{ident}')")) == drawn - first

    # filtering by dataset leaves only that dataset's rows in the tables that have the column
    browser.evaluate(
        "(() => { const s = document.getElementById('filter-dataset');"
        " s.value = s.options[1].value; s.dispatchEvent(new Event('change')); })()"
    )
    shown = browser.evaluate(
        "Array.from(document.querySelectorAll('table.ffb[data-dataset-col]:not("
        '[data-dataset-col="-1"]) tbody tr\')).filter(r => !r.hidden).map(r => '
        "r.cells[parseInt(r.closest('table').dataset.datasetCol)].textContent)"
    )
    chosen = browser.evaluate("document.getElementById('filter-dataset').value")
    assert shown
    assert set(shown) == {chosen}

    shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
    out = Path(os.environ.get("FF_BENCH_SCREENSHOTS", tmp_path)) / "report_html.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert out.stat().st_size > 10_000
    assert browser.errors() == []


def test_compare_in_browser(
    browser: Page, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _require("plotly", "plotly")
    out = tmp_path / "compare.html"
    assert main(["compare", "quick-a", "quick-b", "--storage", str(RUNS), "--html", str(out)]) == 0
    capsys.readouterr()
    _clean(browser)
    seconds = browser.open(out)
    print(f"{out.name}: {out.stat().st_size} bytes, drawn in {seconds:.2f} s")
    assert browser.errors() == []
    assert _offline(browser) == []
    figures = _check_figures(browser)
    assert figures
    for ident, (expected, drawn) in figures.items():
        assert expected > 0, ident
        assert drawn == expected, (ident, expected, drawn)
    # machines and commits side by side: one column per run in the runs table
    heads = browser.evaluate(
        "Array.from(document.querySelectorAll('#table-runs thead th')).map(c => c.textContent)"
    )
    assert [h.split()[0] for h in heads[1:]] == ["A", "B"]
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('#table-runs tbody tr')).map(r => r.cells[0]"
        ".textContent)"
    )
    assert {"CPU", "GPU", "software", "commit"} <= set(rows)


def test_recipe_and_machine_filters_in_browser(
    browser: Page, two_machine_runs: Path, tmp_path: Path
) -> None:
    _require("plotly", "plotly")
    make_report(["cpu", "gpu"], two_machine_runs, tmp_path, console=Console(file=io.StringIO()))
    _clean(browser)
    browser.open(tmp_path / "report.html")
    assert browser.errors() == []
    visible = (
        "Array.from(document.querySelectorAll('table.ffb:not(#table-0) tbody tr'))"
        ".filter(r => !r.hidden && r.querySelector('[data-recipe]'))"
        ".map(r => r.querySelector('[data-recipe]').dataset.recipe)"
    )
    every = browser.evaluate(visible)
    assert set(every) == {"quick", "other"}
    choose = (
        "(() => {{ const s = document.getElementById('{}'); s.value = s.options[{}].value;"
        " s.dispatchEvent(new Event('change')); return s.value; }})()"
    )
    recipe = browser.evaluate(choose.format("filter-recipe", 2))
    shown = browser.evaluate(visible)
    assert shown
    assert set(shown) == {recipe}
    browser.evaluate(choose.format("filter-recipe", 0))
    machine = browser.evaluate(choose.format("filter-machine", 2))
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('[data-machines]')).filter(c => "
        "!c.closest('tr').hidden).map(c => JSON.parse(c.dataset.machines))"
    )
    assert rows
    assert all(machine in r for r in rows)
    columns = browser.evaluate(
        "Array.from(document.querySelectorAll('#table-0 thead th[data-machine]'))"
        ".filter(c => !c.hidden).map(c => c.dataset.machine)"
    )
    assert columns == [machine]
    assert browser.errors() == []


@pytest.mark.parametrize("path", PUBLISHED, ids=[str(p.relative_to(REPO)) for p in PUBLISHED])
def test_published_page_in_browser(browser: Page, path: Path) -> None:
    _clean(browser)
    seconds = browser.open(path)
    print(f"{path.relative_to(REPO)}: {path.stat().st_size} bytes, drawn in {seconds:.2f} s")
    assert browser.errors() == []
    assert _offline(browser) == []
    for ident, (expected, drawn) in _check_figures(browser).items():
        assert drawn == expected, (ident, expected, drawn)
    folder = os.environ.get("FF_BENCH_SCREENSHOTS")
    if folder:  # the page's top, and its first figure, for a reader to look at
        name = "_".join(path.relative_to(REPO / "reports").with_suffix("").parts)
        _screenshot(browser, Path(folder) / f"{name}_top.png", None)
        first = browser.evaluate("(document.querySelector('.figure') || {}).id || null")
        if first:
            _screenshot(browser, Path(folder) / f"{name}_figure.png", f"{first}-title")


def _screenshot(page: Page, out: Path, anchor: str | None) -> None:
    """A viewport-sized PNG, scrolled to the element ``anchor`` (an id), or to the top."""
    target = "0" if anchor is None else f"document.getElementById('{anchor}').offsetTop - 50"
    page.evaluate(f"window.scrollTo(0, {target})")
    shot = page.send("Page.captureScreenshot", format="png")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))

"""What every HTML page of a report inlines: plotly.js (from the ``plotly`` package, read from disk
and never from a network), the style sheet and the page's own script (sortable and filterable
tables, the machine selector, drawing the figures).

plotly is an optional extra (``pip install 'ff-bench[plots]'``): :func:`plotly_js` returns None
when it is not installed, and the caller then writes no HTML and says how to add it.
"""

from __future__ import annotations

HTML_HINT = (
    "report.html skipped: plotly is not installed; install plots with: "
    "pip install 'ff-bench[plots]'"
)


def plotly_js() -> str | None:
    """The plotly.js bundle shipped inside the ``plotly`` package; None without the package."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        return None
    text: str = get_plotlyjs()
    return text


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
  max-width: 1400px; padding: 0 1.5rem 3rem; color: #1d1d1f; }
h1 { font-size: 1.5rem; margin: 1.2rem 0 0.4rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 0.4rem; }
p.lead { color: #444; max-width: 70rem; }
nav.toc { font-size: 0.9rem; columns: 3; margin: 0.5rem 0 1rem; }
nav.toc a { display: block; }
.filters { position: sticky; top: 0; z-index: 10; background: #f6f6f8; border: 1px solid #ddd;
  padding: 0.5rem 0.8rem; display: flex; gap: 1rem; flex-wrap: wrap; align-items: center;
  font-size: 0.9rem; }
.filters label { display: flex; gap: 0.3rem; align-items: center; }
.filters input { width: 16rem; }
.scroll { overflow-x: auto; }
table.ffb { border-collapse: collapse; font-size: 0.85rem; margin: 0.3rem 0; }
table.ffb th, table.ffb td { border-bottom: 1px solid #e3e3e3; padding: 0.25rem 0.55rem;
  vertical-align: top; }
table.ffb th { background: #eef0f4; text-align: left; white-space: nowrap; }
table.ffb th button { font: inherit; font-weight: 600; background: none; border: 0;
  padding: 0; cursor: pointer; }
table.ffb th[aria-sort="ascending"] button::after { content: " ▲"; }
table.ffb th[aria-sort="descending"] button::after { content: " ▼"; }
table.ffb td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.ffb td.na { color: #8a5a00; cursor: help; text-decoration: underline dotted; }
table.ffb td.same { color: #999; }
table.ffb tr.flagged td { background: #fde2e1; }
table.ffb tr.flagged td.flag { color: #b00020; font-weight: 600; }
ul.notes { font-size: 0.8rem; color: #555; margin: 0.2rem 0 0.8rem; }
.count { font-size: 0.8rem; color: #666; }
.figure { border: 1px solid #e3e3e3; margin: 0.4rem 0; min-height: 440px; }
p.caption { font-size: 0.8rem; color: #555; font-style: italic; }
.flags { border-left: 4px solid #b00020; background: #fff4f4; padding: 0.4rem 0.8rem; }
.ok { border-left: 4px solid #2e7d32; background: #f3faf3; padding: 0.4rem 0.8rem; }
.warnings { border-left: 4px solid #c77700; background: #fff8ec; padding: 0.4rem 0.8rem; }
"""

SCRIPT = """
(function () {
  "use strict";
  window.ffbErrors = [];
  window.addEventListener("error", function (e) { window.ffbErrors.push(String(e.message)); });
  function cellKey(td) {
    var key = td.getAttribute("data-sort");
    return key === null ? null : parseFloat(key);
  }
  function sortTable(table, index, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var ca = a.cells[index], cb = b.cells[index];
      var ka = cellKey(ca), kb = cellKey(cb);
      var order;
      if (ka !== null && kb !== null) { order = ka - kb; }
      else if (ka !== null) { return -1; }   // cells without a number last, either way
      else if (kb !== null) { return 1; }
      else { order = ca.textContent.localeCompare(cb.textContent, undefined, {numeric: true}); }
      return ascending ? order : -order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function selected(id) {
    var el = document.getElementById(id);
    return el ? el.value : "";
  }
  function applyFilters() {
    var dataset = selected("filter-dataset"), method = selected("filter-method");
    var recipe = selected("filter-recipe"), machine = selected("filter-machine");
    var text = selected("filter-text").toLowerCase();
    document.querySelectorAll("table.ffb[data-filter]").forEach(function (table) {
      var di = parseInt(table.getAttribute("data-dataset-col"), 10);
      var mi = parseInt(table.getAttribute("data-method-col"), 10);
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var ok = true;
        if (dataset && di >= 0) { ok = row.cells[di].getAttribute("data-value") === dataset; }
        if (ok && method && mi >= 0) { ok = row.cells[mi].getAttribute("data-base") === method; }
        if (ok && recipe) {  // rows that say nothing of their recipe stay
          var rc = row.querySelector("[data-recipe]");
          ok = rc === null || rc.getAttribute("data-recipe") === recipe;
        }
        if (ok && machine) {
          var mc = row.querySelector("[data-machines]");
          ok = mc === null || JSON.parse(mc.getAttribute("data-machines")).indexOf(machine) >= 0;
        }
        if (ok && text) { ok = row.textContent.toLowerCase().indexOf(text) >= 0; }
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      var count = document.getElementById(table.id + "-count");
      if (count) { count.textContent = shown + " of " + table.tBodies[0].rows.length + " rows"; }
    });
    document.querySelectorAll("table.ffb [data-machine]").forEach(function (cell) {
      cell.hidden = Boolean(machine) && cell.getAttribute("data-machine") !== machine;
    });
  }
  function setUp() {
    document.querySelectorAll("table.ffb").forEach(function (table) {
      table.querySelectorAll("thead th").forEach(function (th, index) {
        var button = th.querySelector("button");
        if (button) {
          button.addEventListener("click", function () { sortTable(table, index, th); });
        }
      });
    });
    document.querySelectorAll(".filters select, .filters input").forEach(function (el) {
      el.addEventListener("input", applyFilters);
      el.addEventListener("change", applyFilters);
    });
    applyFilters();
    var figures = JSON.parse(document.getElementById("ffb-figures").textContent);
    var config = {responsive: true, displaylogo: false, scrollZoom: false,
                  toImageButtonOptions: {format: "png", scale: 2}};
    var drawn = figures.map(function (f) {
      return Plotly.newPlot(f.id, f.data, f.layout, config);
    });
    Promise.all(drawn).then(function () {
      window.ffbLoadMs = performance.now();
      window.ffbReady = true;
    }, function (err) {
      window.ffbErrors.push(String(err));
      window.ffbReady = true;
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else { setUp(); }
})();
"""

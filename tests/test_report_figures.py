"""Figures: valid, non-trivial PNGs with titles, axis labels with units, legends and the device
in the caption; skipped (None) when matplotlib is missing."""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ff_algos.report.build import caption
from ff_algos.report.cases import CaseGroup, group_cases, merge_cases
from ff_algos.report.figures import FIGURES, draw_figures
from ff_algos.report.runs import SavedRun, load_run, ref_for

RUNS = Path(__file__).parent / "fixtures" / "runs"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fixture_run() -> SavedRun:
    real = sorted(RUNS.glob("*/[0-9][0-9][0-9][0-9]_*.json"))
    path = (real if len(real) >= 2 else sorted(RUNS.glob("synthetic-*.json")))[0]
    return load_run(ref_for(path))


def groups_of(run: SavedRun) -> list[CaseGroup]:
    return group_cases(merge_cases([(run.label, run.datetime, run.cases)]).cases)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@dataclass(frozen=True)
class Drawn:
    pngs: dict[str, bytes]
    figures: list[Any]  # the matplotlib Figures that were saved, in order
    caption: str
    device: str


@pytest.fixture(scope="module")
def drawn() -> Drawn:
    """Draw the fixture run's figures once, keeping each Figure object as it is saved."""
    from matplotlib.figure import Figure

    saved: list[Any] = []
    original = Figure.savefig

    def record(self: Figure, *args: Any, **kwargs: Any) -> None:
        saved.append(self)
        original(self, *args, **kwargs)

    run = fixture_run()
    groups = groups_of(run)
    text = caption([run], groups)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", record)
        pngs = draw_figures(groups, text)
    assert pngs is not None
    return Drawn(pngs, saved, text, run.devices[0])


def test_every_figure_is_a_real_png(drawn: Drawn) -> None:
    assert set(drawn.pngs) == set(FIGURES)  # both methods are in the fixture: every figure applies
    for name, data in drawn.pngs.items():
        width, height = png_size(data)
        assert width > 500, name
        assert height > 300, name
        assert len(data) > 10_000, name  # more than an empty canvas


def test_figures_have_titles_labels_legends_and_the_device(drawn: Drawn) -> None:
    assert len(drawn.figures) == len(drawn.pngs)
    assert drawn.device in drawn.caption
    for fig in drawn.figures:
        assert drawn.caption in [t.get_text() for t in fig.texts]  # the caption, with the device
        assert fig.get_suptitle() or fig.axes[0].get_title()
        for ax in fig.axes:
            assert ax.get_title()
            assert ax.get_xlabel()
            assert "(" in ax.get_ylabel()
            assert ")" in ax.get_ylabel()
            has_bars_or_lines = bool(ax.patches or ax.lines)
            assert ax.get_legend() is not None or not has_bars_or_lines


def test_figures_for_backprop_only_skip_the_ff_layer_figure() -> None:
    run = fixture_run()
    bp_only = [g for g in groups_of(run) if g.method == "bp"]
    pngs = draw_figures(bp_only, "Device: test")
    assert pngs is not None
    assert "time_ff_layers.png" not in pngs
    assert "time_end_to_end.png" in pngs


def test_without_matplotlib_no_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    run = fixture_run()
    assert draw_figures(groups_of(run), "x") is None

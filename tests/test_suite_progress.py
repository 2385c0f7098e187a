"""The live progress display: draws on a terminal, stays silent elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from ff_algos.method import NullObserver
from ff_algos.suite.progress import RichProgress, progress_observer


def test_silent_when_not_a_terminal() -> None:
    observer, bar = progress_observer(Console(file=io.StringIO()), "mnist/ff")
    assert isinstance(observer, NullObserver)
    assert bar is None


def test_draws_phase_and_epochs_on_a_terminal() -> None:
    out = io.StringIO()
    observer, bar = progress_observer(Console(file=out, force_terminal=True, width=100), "mnist/ff")
    assert isinstance(bar, RichProgress)
    observer.phase_start("layer1", 4)
    for epoch in range(4):
        observer.epoch_end(epoch)
    observer.phase_end()
    observer.phase_start("layer2", 4)
    bar.close()
    bar.close()  # closing twice is harmless
    text = out.getvalue()
    assert "mnist/ff layer1" in text
    assert "0/4" in text
    assert "mnist/ff layer2" in text

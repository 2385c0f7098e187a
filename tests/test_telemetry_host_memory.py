"""Host peak RSS: a large allocation inside a window raises its peak; the peak resets."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ff_algos.telemetry import TelemetrySession
from ff_algos.telemetry.host_memory import read_peak_rss

MIB = 1 << 20
SIZE = 256 * MIB


def _rss_bytes() -> int:
    found = re.search(r"^VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    if found is None:
        pytest.skip("needs /proc/self/status (Linux)")
    return int(found.group(1)) * 1024


def test_peak_rises_with_an_allocation_in_the_window() -> None:
    session = TelemetrySession("cpu")
    before = _rss_bytes()
    with session.window("train") as w:
        block = np.ones(SIZE // 8)  # ones, not empty: the pages must be touched
        assert block.sum() == SIZE // 8
        del block
    peak = w.result.host_peak_rss_bytes
    assert peak is not None
    assert peak >= before + 0.9 * SIZE

    with session.window("eval") as quiet:
        pass
    if not quiet.result.host_peak_rss_reset:
        pytest.skip(f"peak cannot be reset here: {quiet.result.notes['host_peak_rss_bytes']}")
    assert quiet.result.host_peak_rss_bytes is not None
    assert quiet.result.host_peak_rss_bytes < peak - 0.5 * SIZE


def test_outer_window_keeps_the_inner_peak() -> None:
    session = TelemetrySession("cpu")
    with session.window("end_to_end") as outer:
        with session.window("train") as inner:
            block = np.ones(SIZE // 8)
            del block
        with session.window("eval"):  # resets the counter again
            pass
    assert inner.result.host_peak_rss_bytes is not None
    assert outer.result.host_peak_rss_bytes is not None
    assert outer.result.host_peak_rss_bytes >= inner.result.host_peak_rss_bytes


def test_read_peak_rss_reports_a_source() -> None:
    peak, source = read_peak_rss()
    assert source in ("VmHWM", "ru_maxrss")
    assert peak is not None
    assert peak > 0

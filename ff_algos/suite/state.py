"""Session-wide state of one ``pytest bench/`` run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ff_algos.suite.floors import Floors
from ff_algos.suite.options import SuiteOptions


@dataclass
class Suite:
    """The parsed options, the floors, and the ``extra_info`` of every case finished so far."""

    options: SuiteOptions
    floors: Floors
    session_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)

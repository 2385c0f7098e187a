"""Session-wide state of one ``pytest bench/`` run."""

from __future__ import annotations

from dataclasses import dataclass, field

from ff_algos.record import CaseRecord
from ff_algos.suite.floors import Floors
from ff_algos.suite.options import SuiteOptions


@dataclass
class Suite:
    """The parsed options, the floors, and the record of every case finished so far."""

    options: SuiteOptions
    floors: Floors
    session_id: str
    rows: list[CaseRecord] = field(default_factory=list)

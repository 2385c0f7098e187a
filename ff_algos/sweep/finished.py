"""Which cases of a shard are finished: its journal records them as ended with a result (passed,
below floor or without floor) *and* one of its saved runs holds them. A case journaled by a job
that was killed before pytest-benchmark saved is not finished: ``--resume`` runs it again."""

from __future__ import annotations

import json
from pathlib import Path

from ff_algos.suite.journal import read_journal
from ff_algos.sweep.layout import SweepDir

FINISHED = ("passed", "below_floor", "no_floor")


def finished_cases(sweep: SweepDir, k: int) -> dict[str, str]:
    """Shard ``k``'s finished cases: case id -> the pytest node id its journal gives."""
    journal = sweep.journal(k)
    if not journal.exists():
        return {}
    saved = saved_names(sweep.runs(k))
    done: dict[str, str] = {}
    for record in read_journal(journal):
        nodeid = str(record.get("nodeid", ""))
        name = nodeid.rpartition("::")[2]
        if record.get("status") in FINISHED and name in saved:
            done[case_id(name)] = nodeid
    return done


def saved_names(paths: list[Path]) -> set[str]:
    """Benchmark names (``test_fit[...]``) held by saved runs; unreadable files hold none."""
    names: set[str] = set()
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            names.update(str(b.get("name")) for b in data.get("benchmarks", []))
        except (OSError, ValueError, AttributeError):
            continue
    return names


def case_id(name: str) -> str:
    """``test_fit[mnist-ff-seed0]`` -> ``mnist-ff-seed0``."""
    head, _, rest = name.partition("[")
    return rest[:-1] if rest.endswith("]") else head

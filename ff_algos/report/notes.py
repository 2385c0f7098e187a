"""The notes under the report's tables: the recipe behind each number, seeds, accuracy floors,
why a value is "n/a", and caveats the suite recorded on values it did measure."""

from __future__ import annotations

from collections.abc import Sequence

from ff_algos.report.cases import CaseGroup
from ff_algos.report.rows import case_label
from ff_algos.report.study import method_label, recorded_match
from ff_algos.telemetry import units


def recipe_notes(groups: Sequence[CaseGroup]) -> list[str]:
    """One sentence per method and recipe: is it the study's recipe (like for like)?"""
    notes: dict[str, None] = {}
    for group in groups:
        match = recorded_match(group.cases[0].record)
        notes[f"{method_label(group.method)}: {match.describe(group.recipe_name)}"] = None
    return list(notes)


def seed_notes(groups: Sequence[CaseGroup]) -> list[str]:
    """How many seeds the means of multi-seed groups are over (nothing when every group has one)."""
    several = [g for g in groups if len(g.cases) > 1]
    if not several:
        return []
    counts = sorted({len(g.cases) for g in several})
    seeds = "/".join(map(str, counts))
    return [f"cells of cases run with several seeds are means over {seeds} seeds"]


def floor_notes(groups: Sequence[CaseGroup]) -> list[str]:
    """The cases whose test accuracy fell below the suite's floor."""
    below = [
        f"{case_label(c)} seed {c.seed}: "
        f"{units.accuracy(c.record.accuracy.test)} "
        f"< floor {units.accuracy(c.record.accuracy.floor)}"
        for g in groups
        for c in g.cases
        if c.record.accuracy.passed is False
    ]
    return [f"below the suite's accuracy floor: {'; '.join(below)}"] if below else []


def unavailable_notes(groups: Sequence[CaseGroup], prefixes: Sequence[str]) -> list[str]:
    """``n/a`` explained for fields starting with one of ``prefixes``: per recorded reason, the
    fields it covers and the cases it affects."""
    every = [c for g in groups for c in g.cases]
    where: dict[str, dict[str, dict[str, None]]] = {}  # reason -> field -> case names
    for case in every:
        for key, reason in case.record.unavailable.items():
            if key.startswith(tuple(prefixes)):
                where.setdefault(reason, {}).setdefault(key, {})[case_label(case)] = None
    everyone = list(dict.fromkeys(case_label(c) for c in every))
    notes = []
    for reason, fields in where.items():
        by_cases: dict[tuple[str, ...], list[str]] = {}
        for key, names in fields.items():
            by_cases.setdefault(tuple(names), []).append(key)
        for affected, keys in by_cases.items():
            scope = "all cases" if list(affected) == everyone else ", ".join(affected)
            notes.append(f"n/a: {reason}: {', '.join(sorted(keys))} ({scope})")
    return notes


def telemetry_notes(
    groups: Sequence[CaseGroup], words: Sequence[str], *, others: bool = False
) -> list[str]:
    """Caveats the suite recorded on values it did measure (the record's ``telemetry_notes``):
    those whose key contains one of ``words``, or with ``others`` those whose key contains none."""
    where: dict[tuple[str, str], dict[str, None]] = {}  # (field, note) -> case names
    for case in (c for g in groups for c in g.cases):
        for key, note in case.record.telemetry_notes.items():
            if any(word in key for word in words) != others:
                where.setdefault((key, note), {})[case_label(case)] = None
    return [f"note {key}: {note} ({', '.join(names)})" for (key, note), names in where.items()]

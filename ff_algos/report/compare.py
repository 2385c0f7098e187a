"""``ff-bench compare``: saved runs side by side, case by case, against a baseline run A.

For each case in both runs, every metric is shown for A and B with the change: the ratio B/A for
times, memory, power and energy, the difference B - A for accuracy. Flagged:

* an accuracy (train or test) that dropped by more than ``accuracy_tol`` (absolute, a fraction);
* an end-to-end or train time whose ratio B/A exceeds ``slowdown``;
* a case of A that B does not have (it may have failed or been dropped).

Cases only B has are listed, not flagged. Runs whose cases ran different recipes (seed included)
are compared anyway, under a warning that the comparison is not like for like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ff_algos.report import sections
from ff_algos.report.cases import Case, group_cases
from ff_algos.report.metrics import metric
from ff_algos.report.rows import case_label
from ff_algos.report.runs import SavedRun
from ff_algos.report.tables import Table
from ff_algos.telemetry import units

COMPARED = (
    "accuracy.train",
    "accuracy.test",
    "seconds.end_to_end",
    "seconds.data",
    "seconds.train",
    "seconds.eval",
    "compute.total",
    "compute.per_epoch_mean",
    "stats.mean",
    "flops.train_per_s",
    "memory.torch_peak_bytes.train",
    "memory.nvml_used_peak_bytes",
    "memory.host_peak_rss_bytes",
    "power.mean_w",
    "energy.joules",
)
ACCURACY = ("accuracy.train", "accuracy.test")
SLOWDOWN = ("seconds.end_to_end", "seconds.train")


@dataclass(frozen=True)
class Thresholds:
    """When a change is flagged."""

    accuracy_tol: float = 0.01  # largest allowed accuracy drop (fraction)
    slowdown: float = 1.10  # largest allowed time ratio B/A


@dataclass(frozen=True)
class Flag:
    """One flagged change."""

    case: str
    what: str

    def __str__(self) -> str:
        return f"{self.case}: {self.what}"


@dataclass(frozen=True)
class Comparison:
    """Run B against baseline run A."""

    a: SavedRun
    b: SavedRun
    table: Table
    warnings: tuple[str, ...]
    flags: tuple[Flag, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]


def compare_runs(a: SavedRun, b: SavedRun, thresholds: Thresholds) -> Comparison:
    """Compare every case of B with the same case of A (same pytest name)."""
    cases_a = {c.name: c for c in a.cases}
    cases_b = {c.name: c for c in b.cases}
    common = [c.name for g in group_cases(a.cases) for c in g.cases if c.name in cases_b]
    only_a = tuple(n for n in cases_a if n not in cases_b)
    only_b = tuple(n for n in cases_b if n not in cases_a)
    labels = _labels([cases_a[n] for n in common])
    rows: list[tuple[str, ...]] = []
    flags: list[Flag] = [Flag(case_label(cases_a[n]), "missing from B") for n in only_a]
    unmeasured: dict[str, None] = {}
    for name in common:
        ca, cb = cases_a[name], cases_b[name]
        first = True
        for key in COMPARED:
            m = metric(key)
            va, vb = m.get(ca), m.get(cb)
            if va is None and vb is None:
                unmeasured[m.label] = None
                continue
            flag = _flag(key, va, vb, thresholds)
            if flag:
                flags.append(Flag(labels[name], f"{m.label} {flag}"))
            if key in ACCURACY:
                change = units.accuracy_diff(None if va is None or vb is None else vb - va)
            else:
                change = units.ratio(units.safe_ratio(vb, va))
            case_cell = labels[name] if first else ""
            first = False
            rows.append((case_cell, m.label, m.show(va), m.show(vb), change, flag or ""))
    notes = [
        f"flagged: accuracy drop > {thresholds.accuracy_tol:g}; end-to-end or train time "
        f"B/A > {thresholds.slowdown:g}; a case of A missing from B"
    ]
    if unmeasured:
        notes.append(f"not shown where neither run measured them (n/a): {', '.join(unmeasured)}")
    table = Table(
        title=f"A = {a.label}  vs  B = {b.label}",
        columns=("case", "metric", "A", "B", "B/A (accuracy: B − A)", "flag"),
        rows=tuple(rows),
        notes=tuple(notes),
        left=2,
    )
    return Comparison(
        a=a,
        b=b,
        table=table,
        warnings=tuple(recipe_warnings(cases_a, cases_b, common)),
        flags=tuple(flags),
        only_a=only_a,
        only_b=only_b,
    )


def runs_table(runs: Sequence[SavedRun]) -> Table:
    """The compared runs, one column each, headed by its role (A, then B or B1, B2...)."""
    roles = ["A", *(["B"] if len(runs) == 2 else [f"B{i}" for i in range(1, len(runs))])]
    labels = [f"{role} {run.label}" for role, run in zip(roles, runs, strict=True)]
    return sections.runs_table(runs, title="Runs compared", labels=labels)


def recipe_warnings(
    cases_a: dict[str, Case], cases_b: dict[str, Case], common: Sequence[str]
) -> list[str]:
    """One warning per distinct recipe difference, naming the cases it affects."""
    by_difference: dict[str, list[str]] = {}
    for name in common:
        ra, rb = cases_a[name].recipe, cases_b[name].recipe
        diffs = [
            f"{k} {_show(ra.get(k))} -> {_show(rb.get(k))}"
            for k in sorted(set(ra) | set(rb))
            if _plain(ra.get(k)) != _plain(rb.get(k))
        ]
        if diffs:
            by_difference.setdefault("; ".join(diffs), []).append(case_label(cases_a[name]))
    return [
        f"not like for like: recipes differ ({diff}) for {', '.join(names)}"
        for diff, names in by_difference.items()
    ]


def _flag(key: str, va: float | None, vb: float | None, t: Thresholds) -> str | None:
    if va is None or vb is None:
        return None
    if key in ACCURACY and va - vb > t.accuracy_tol:
        return f"dropped {va - vb:.3f} > {t.accuracy_tol:g}"
    if key in SLOWDOWN and va > 0 and vb / va > t.slowdown:
        return f"slower {vb / va:.3g}× > {t.slowdown:g}×"
    return None


def _labels(cases: Sequence[Case]) -> dict[str, str]:
    """Readable case labels; the seed is added where one dataset and method has several."""
    counts: dict[str, int] = {}
    for case in cases:
        counts[case_label(case)] = counts.get(case_label(case), 0) + 1
    return {
        c.name: case_label(c) + (f" seed {c.seed}" if counts[case_label(c)] > 1 else "")
        for c in cases
    }


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple | list) else value


def _show(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)

"""``ff-bench compare``: saved runs side by side, group by group, against a baseline run A.

Cases are paired by pytest name (the same case in both runs). The paired cases of one dataset,
method and recipe of A, seeds apart, are compared as one group: a single case, or several seeds.
Every metric is shown for A and B (over several seeds: ``mean ± half-width (n=k)`` of the 95% t
interval, :mod:`ff_algos.report.spread`) with the change of the means: the ratio B/A for times,
memory, power and energy, the difference B − A for accuracy. Flagged, with the rule used named in
each row:

* an accuracy (train or test) drop, by one of two rules:

  - ``threshold`` (either run has one seed of the group): the drop of the mean exceeds
    ``accuracy_tol`` (absolute, a fraction);
  - ``Welch`` (both runs have two or more seeds): the drop exceeds ``accuracy_tol`` *and*
    Welch's t-test puts B's mean below A's at 95% (two-sided: t above the 0.975 quantile at the
    Welch–Satterthwaite degrees of freedom). A drop inside the seeds' spread is noise, not a
    regression; a real drop smaller than the tolerance is too small to matter.

* an end-to-end or train time whose ratio of means B/A exceeds ``slowdown``;
* a case of A that B does not have (it may have failed or been dropped).

Cases only B has are listed, not flagged. Runs whose cases ran different recipes (seed included)
are compared anyway, under a warning that the comparison is not like for like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ff_algos.report import sections
from ff_algos.report.cases import Case, group_cases
from ff_algos.report.metrics import Metric, metric
from ff_algos.report.rows import case_label, with_spread
from ff_algos.report.runs import SavedRun
from ff_algos.report.spread import Spread, spread_of, welch
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
    pairs: tuple[tuple[str, tuple[Case, ...], tuple[Case, ...]], ...] = ()  # label, A's, B's


@dataclass(frozen=True)
class Side:
    """One metric of one group in one run: the mean and, over several seeds, the spread."""

    mean: float | None
    spread: Spread | None

    @classmethod
    def of(cls, m: Metric, cases: Sequence[Case]) -> Side:
        """The metric over ``cases`` (unmeasured values left out)."""
        values = [v for v in (m.get(c) for c in cases) if v is not None]
        mean = sum(values) / len(values) if values else None
        return cls(mean, spread_of(values))


@dataclass(frozen=True)
class Decision:
    """Whether one metric's change is flagged, and the rule that decided it."""

    flag: str | None
    rule: str


def compare_runs(a: SavedRun, b: SavedRun, thresholds: Thresholds) -> Comparison:
    """Compare each group of A's cases with the same cases (by pytest name) of B."""
    cases_a = {c.name: c for c in a.cases}
    cases_b = {c.name: c for c in b.cases}
    pairs = [
        (paired, tuple(cases_b[c.name] for c in paired))
        for g in group_cases(a.cases)
        if (paired := tuple(c for c in g.cases if c.name in cases_b))
    ]
    common = [c.name for paired, _ in pairs for c in paired]
    only_a = tuple(n for n in cases_a if n not in cases_b)
    only_b = tuple(n for n in cases_b if n not in cases_a)
    labels = _labels([paired for paired, _ in pairs])
    rows: list[tuple[str, ...]] = []
    flags: list[Flag] = [Flag(_case_name(cases_a[n], a.cases), "missing from B") for n in only_a]
    unmeasured: dict[str, None] = {}
    for (group_a, group_b), label in zip(pairs, labels, strict=True):
        first = True
        for key in COMPARED:
            m = metric(key)
            sa, sb = Side.of(m, group_a), Side.of(m, group_b)
            if sa.mean is None and sb.mean is None:
                unmeasured[m.label] = None
                continue
            decision = decide(key, sa, sb, thresholds)
            if decision.flag:
                flags.append(Flag(label, f"{m.label} {decision.flag}"))
            if key in ACCURACY:
                change = units.accuracy_diff(_minus(sb.mean, sa.mean))
            else:
                change = units.ratio(units.safe_ratio(sb.mean, sa.mean))
            rows.append(
                (
                    label if first else "",
                    m.label,
                    with_spread(m.show, sa.mean, sa.spread),
                    with_spread(m.show, sb.mean, sb.spread),
                    change,
                    decision.flag or "",
                    decision.rule,
                )
            )
            first = False
    notes = [
        f"flagged: accuracy drop > {thresholds.accuracy_tol:g} (rule threshold; rule Welch where "
        "both runs have 2+ seeds: also beyond the seeds' spread, Welch's t-test at 95%); "
        f"end-to-end or train time B/A > {thresholds.slowdown:g}; a case of A missing from B",
        "several seeds: mean ± half-width (n=k) of the 95% t interval over the seeds both runs "
        "have; the change compares the means",
    ]
    if unmeasured:
        notes.append(f"not shown where neither run measured them (n/a): {', '.join(unmeasured)}")
    table = Table(
        title=f"A = {a.label}  vs  B = {b.label}",
        columns=("case", "metric", "A", "B", "B/A (accuracy: B − A)", "flag", "rule"),
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
        pairs=tuple((label, ga, gb) for (ga, gb), label in zip(pairs, labels, strict=True)),
    )


def decide(key: str, a: Side, b: Side, t: Thresholds) -> Decision:
    """Flag an accuracy drop (rule threshold, or Welch where both sides have a spread) or a
    slowdown of ``key`` from A to B; other metrics are shown, not judged (rule "—")."""
    if key in ACCURACY:
        if a.spread is not None and b.spread is not None:
            return _welch_drop(a.spread, b.spread, t.accuracy_tol)
        rule = "threshold"
        if a.mean is not None and b.mean is not None and a.mean - b.mean > t.accuracy_tol:
            return Decision(f"dropped {a.mean - b.mean:.3f} > {t.accuracy_tol:g}", rule)
        return Decision(None, rule)
    if key in SLOWDOWN:
        rule = "threshold"
        ratio = units.safe_ratio(b.mean, a.mean)
        if ratio is not None and a.mean is not None and a.mean > 0 and ratio > t.slowdown:
            return Decision(f"slower {ratio:.3g}× > {t.slowdown:g}×", rule)
        return Decision(None, rule)
    return Decision(None, units.NOT_APPLICABLE)


def _welch_drop(a: Spread, b: Spread, tol: float) -> Decision:
    test = welch(a, b)
    rule = f"Welch t {test.t:.2f} {'>' if test.a_above_b else '≤'} {test.critical:.2f}"
    drop = a.mean - b.mean
    if drop > tol and test.a_above_b:
        return Decision(f"dropped {drop:.3f} > {tol:g} ({rule})", rule)
    return Decision(None, rule)


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


def _labels(groups: Sequence[Sequence[Case]]) -> list[str]:
    """Readable group labels: dataset and method, then the recipe name or the first case's
    pytest name where that is not enough."""
    plain = [case_label(g[0]) for g in groups]
    named = [f"{p} ({g[0].recipe_name})" for p, g in zip(plain, groups, strict=True)]
    return [
        p if plain.count(p) == 1 else n if named.count(n) == 1 else f"{p} {g[0].name}"
        for p, n, g in zip(plain, named, groups, strict=True)
    ]


def _case_name(case: Case, cases: Sequence[Case]) -> str:
    """A case's label, with its seed where its dataset and method ran more than once."""
    twins = sum(case_label(c) == case_label(case) for c in cases)
    return case_label(case) + (f" seed {case.seed}" if twins > 1 else "")


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple | list) else value


def _show(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)

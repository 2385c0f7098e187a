"""The tables of ``ff-bench report``: the runs, accuracy beside the study's Table 1, time, FF vs
backprop ratios, and cost (FLOPs, memory, power, energy).

Every table is built from groups of cases (a group's cells are the mean over its seeds, with the
95% t interval's half-width where there are several: :mod:`ff_algos.report.spread`) and
carries, as notes (:mod:`ff_algos.report.notes`), whatever a reader needs to judge it: the recipe
each number came from, why a value is "n/a", which run a merged case came from. What tables share
with the figures and ``summary.json`` is in :mod:`ff_algos.report.rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ff_algos.report import machine
from ff_algos.report.cases import CaseGroup
from ff_algos.report.metrics import metric, phase_epoch_mean, phase_total
from ff_algos.report.notes import (
    floor_notes,
    recipe_notes,
    seed_notes,
    telemetry_notes,
    unavailable_notes,
)
from ff_algos.report.rows import (
    RATIO_KEYS,
    datasets,
    metric_cell,
    metric_cells,
    pair_ratios,
    ratio_pairs,
    row_label,
    spread_notes,
    with_spread,
)
from ff_algos.report.runs import SavedRun
from ff_algos.report.spread import Spread, spread_of
from ff_algos.report.study import dataset_label, study_accuracy
from ff_algos.report.tables import Table
from ff_algos.telemetry import units


def runs_table(
    runs: Sequence[SavedRun],
    notes: Sequence[str] = (),
    *,
    title: str = "Runs",
    labels: Sequence[str] | None = None,
) -> Table:
    """Where the numbers come from, one column per run (headed by ``labels``, default the runs'
    labels): date, devices, machine, software, commit, recipes, cases."""
    fields: list[tuple[str, list[str]]] = [
        ("saved", [_when(r.datetime) for r in runs]),
        ("device", ["; ".join(r.devices) for r in runs]),
        ("CPU", [machine.cpu_text(r.machine_info) for r in runs]),
        ("GPU", [machine.gpu_text(r.machine_info) for r in runs]),
        ("software", [machine.software_text(r.machine_info, r.version) for r in runs]),
        ("commit", [machine.commit_text(r.machine_info, r.commit_info) for r in runs]),
        ("recipe", [", ".join(r.recipes) for r in runs]),
        ("cases", [str(len(r.cases)) for r in runs]),
    ]
    all_notes = list(notes)
    for run in runs:
        if run.ignored:
            all_notes.append(
                f"{run.label}: ignored {len(run.ignored)} benchmark(s) without ff-bench results "
                f"({', '.join(run.ignored[:4])}{', ...' if len(run.ignored) > 4 else ''})"
            )
    return Table(
        title=title,
        columns=("", *(labels if labels is not None else [r.label for r in runs])),
        rows=tuple((name, *values) for name, values in fields),
        notes=tuple(all_notes),
        left=1 + len(runs),
    )


def accuracy_table(groups: Sequence[CaseGroup]) -> Table:
    """Train / test accuracy in the study's Table 1 layout (methods x datasets), with the study's
    values and the difference below each measured row."""
    names = datasets(groups)
    rows: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for group in groups:
        label = row_label(group, groups)
        if label in seen:
            continue
        seen.add(label)
        mine = {g.dataset: g for g in groups if row_label(g, groups) == label}
        measured, study, diff = [label, "measured"], [label, "study"], [label, "Δ measured − study"]
        for name in names:
            g = mine.get(name)
            ref = study_accuracy(group.method, name)
            if g is None:
                measured.append(units.NOT_APPLICABLE)
                diff.append(units.NOT_APPLICABLE)
            else:
                train, test = metric("accuracy.train").get, metric("accuracy.test").get
                spreads = (g.spread(train), g.spread(test))
                means = (g.mean(train), g.mean(test))
                measured.append(_accuracy_pair(units.accuracy, means, spreads))
                diff.append(
                    units.NOT_APPLICABLE
                    if ref is None
                    else _accuracy_pair(
                        units.accuracy_diff,
                        (_minus(means[0], ref.train), _minus(means[1], ref.test)),
                        spreads,
                    )
                )
            study.append(
                units.NOT_APPLICABLE
                if ref is None
                else f"{units.accuracy(ref.train)} / {units.accuracy(ref.test)}"
            )
        rows.append(tuple(measured))
        rows.extend(_predictor_rows(label, mine, names))
        if any(study_accuracy(group.method, name) is not None for name in names):
            rows.extend((tuple(study), tuple(diff)))
    notes = ["cells are train / test accuracy (fractions); — : not run, or not in the study"]
    notes.extend(recipe_notes(groups))
    notes.extend(_seed_notes(groups))
    notes.extend(floor_notes(groups))
    return Table(
        title="Accuracy (the study's Table 1 layout)",
        columns=("method", "", *(dataset_label(n) for n in names)),
        rows=tuple(rows),
        notes=tuple(notes),
        left=2,
    )


def _predictor_rows(
    label: str, mine: dict[str, CaseGroup], names: Sequence[str]
) -> list[tuple[str, ...]]:
    """One row per further predictor a method scored (e.g. FF goodness beside a head): test
    accuracy, mean over seeds."""
    found = sorted(
        {p for g in mine.values() for c in g.cases for p in c.record.accuracy.predictors}
    )
    rows = []
    for pred in found:
        cells = [label, f"{pred} (test)"]
        for name in names:
            g = mine.get(name)
            scores = [c.record.accuracy.predictors.get(pred) for c in (g.cases if g else ())]
            values = [s.test for s in scores if s is not None]
            cells.append(
                f"— / {with_spread(units.accuracy, sum(values) / len(values), spread_of(values))}"
                if values
                else units.NOT_APPLICABLE
            )
        rows.append(tuple(cells))
    return rows


def time_table(groups: Sequence[CaseGroup]) -> Table:
    """Seconds per stage, compute per epoch, FF per layer, and pytest-benchmark's own timing."""
    layers = _ff_layers(groups)
    keys = (
        "seconds.end_to_end",
        "seconds.data",
        "seconds.train",
        "seconds.eval",
        "compute.total",
        "compute.per_epoch_mean",
    )
    rows = []
    for g in groups:
        cells = [dataset_label(g.dataset), row_label(g, groups)]
        cells.extend(metric_cells(g, keys))
        for layer in layers:
            if layer not in g.phases() or g.method != "ff":
                cells.append(units.NOT_APPLICABLE)
                continue
            total = with_spread(
                units.seconds, g.mean(phase_total(layer)), g.spread(phase_total(layer)), count=False
            )
            per_epoch = g.mean(phase_epoch_mean(layer))
            cells.append(f"{total} ({units.seconds(per_epoch)}/epoch)")
        cells.append(_bench_cell(g))
        rows.append(tuple(cells))
    timers = sorted({c.record.compute.timer for g in groups for c in g.cases})
    notes = [
        "end to end = the whole training run (data, train, eval); compute = the timed training "
        f"work only, timer: {', '.join(timers)}",
        "compute/epoch = mean over every epoch of every phase (FF: all layers)",
    ]
    if layers:
        notes.append("FF layerN = that layer's compute seconds (and per epoch); — : not applicable")
    notes.append("benchmark = pytest-benchmark's mean ± stddev over rounds of the end-to-end run")
    notes.extend(_seed_notes(groups))
    return Table(
        title="Time",
        columns=(
            "dataset",
            "method",
            *(metric(k).label for k in keys),
            *(f"FF {layer}" for layer in layers),
            "benchmark",
        ),
        rows=tuple(rows),
        notes=tuple(notes),
        left=2,
    )


def ratio_table(groups: Sequence[CaseGroup]) -> Table | None:
    """FF time over backprop time per dataset; None when no dataset has both methods."""
    pairs = ratio_pairs(groups)
    if not pairs:
        return None
    rows = []
    notes = ["same dataset and recipe name; each ratio = FF seconds / backprop seconds"]
    for ff, bp in pairs:
        cells = [dataset_label(ff.dataset), f"{ff.method} / {bp.method}", ff.recipe_name]
        cells.extend(units.ratio(r) for r in pair_ratios(ff, bp).values())
        rows.append(tuple(cells))
    if any(len(g.cases) > 1 for pair in pairs for g in pair):
        notes.append("over several seeds: the ratio of the means (no interval)")
    return Table(
        title="FF / backprop time ratios (above 1: FF is slower)",
        columns=("dataset", "pair", "recipe", *(metric(k).label for k in RATIO_KEYS)),
        rows=tuple(rows),
        notes=tuple(notes),
        left=3,
    )


COMPUTE_KEYS = ("flops.train", "flops.train_per_s", "flops.peak_per_s", "flops.utilisation")
MEMORY_KEYS = ("memory.nvml_used_peak_bytes", "memory.host_peak_rss_bytes")
ENERGY_KEYS = (
    "energy.joules",
    "energy.joules_per_accuracy_point",
    "energy.joules_per_test_point",
)
_TORCH_PEAKS = ("data", "train", "eval")
_MEMORY_WORDS = ("flops", "memory", "peak", "rss", "nvml_used")  # telemetry notes on table 1


def compute_memory_table(groups: Sequence[CaseGroup]) -> Table:
    """FLOPs and how fast they ran; memory peaks."""
    rows = []
    for g in groups:
        cells = [dataset_label(g.dataset), row_label(g, groups)]
        cells.extend(metric_cells(g, COMPUTE_KEYS))
        peaks = [metric_cell(g, f"memory.torch_peak_bytes.{p}", count=False) for p in _TORCH_PEAKS]
        cells.append(" / ".join(peaks))
        cells.extend(metric_cells(g, MEMORY_KEYS))
        rows.append(tuple(cells))
    notes = [
        "FLOPs are the recipe's analytic model FLOPs (matrix products, 2 per multiply-add); "
        "achieved FLOP/s = train FLOPs / train seconds; utilisation = achieved / peak",
        "torch peak = torch's peak allocated device memory in the data, train and eval stages",
    ]
    notes.extend(_seed_notes(groups))
    notes.extend(unavailable_notes(groups, ("flops.", "memory.")))
    notes.extend(telemetry_notes(groups, _MEMORY_WORDS))
    return Table(
        title="Cost: compute and memory",
        columns=(
            "dataset",
            "method",
            *(metric(k).label for k in COMPUTE_KEYS),
            "torch peak data / train / eval",
            *(metric(k).label for k in MEMORY_KEYS),
        ),
        rows=tuple(rows),
        notes=tuple(notes),
        left=2,
    )


def _mean_bytes(values: Sequence[int | None]) -> str:
    """The mean of the measured byte counts, or n/a when none was measured."""
    known = [v for v in values if v is not None]
    return units.nbytes(sum(known) / len(known)) if known else units.NA


def held_memory_table(groups: Sequence[CaseGroup]) -> Table | None:
    """What training holds by its own count (``memory.held``), where it was measured: the peak
    of activations saved for backward, saved copies of parameters, parameters and optimiser
    state; None when no case measured it."""
    rows = []
    for g in groups:
        held = [h for c in g.cases if (h := c.record.memory.held) is not None]
        if not held:
            continue
        cells = [dataset_label(g.dataset), row_label(g, groups)]
        cells.append(_mean_bytes([h.saved_for_backward_peak_bytes for h in held]))
        cells.append(_mean_bytes([h.cast_parameter_peak_bytes for h in held]))
        cells.append(_mean_bytes([h.parameter_bytes for h in held]))
        cells.append(_mean_bytes([h.optimizer_state_bytes for h in held]))
        cells.append(str(held[0].rows))
        rows.append(tuple(cells))
    if not rows:
        return None
    notes = [
        "counted exactly on an untimed run of the rows shown (ff_algos.telemetry.held_memory): "
        "each storage once, alive at once; parameters and their saved copies (autocast's "
        "low-precision weights) apart from activations",
        "parameter copies n/a: a record made before they were counted apart (its activations "
        "include them)",
    ]
    notes.extend(_seed_notes(groups))
    return Table(
        title="Memory held by training",
        columns=(
            "dataset",
            "method",
            "saved for backward (peak)",
            "parameter copies (peak)",
            "parameters",
            "optimiser state",
            "rows",
        ),
        rows=tuple(rows),
        notes=tuple(notes),
        left=2,
    )


def energy_table(groups: Sequence[CaseGroup]) -> Table:
    """Power and energy, and energy per accuracy point."""
    rows = []
    for g in groups:
        cells = [dataset_label(g.dataset), row_label(g, groups)]
        cells.extend(metric_cells(g, ("power.mean_w", "power.max_w")))
        cells.append(str(sum(c.record.power.samples for c in g.cases)))
        cells.extend(metric_cells(g, ENERGY_KEYS))
        # the epochs' energy (same span as compute) and each phase's, mean over the group's cases
        epochs = [j for c in g.cases if (j := c.record.energy.epochs_joules) is not None]
        phases: dict[str, list[float]] = {}
        for c in g.cases:
            for phase, pj in c.record.energy.by_phase.items():
                phases.setdefault(phase, []).extend([pj.gpu_j] if pj.gpu_j is not None else [])
        cells.append(units.si(sum(epochs) / len(epochs), "J") if epochs else units.NA)
        cells.append(
            ", ".join(
                f"{p} {units.si(sum(js) / len(js), 'J') if js else units.NA}"
                for p, js in phases.items()
            )
            or units.NA
        )
        rows.append(tuple(cells))
    notes = [
        "power and train energy cover the training stage; J per accuracy point = train energy "
        "/ (100 x test accuracy); eval energy per test sample = evaluation energy / test samples",
        "epochs energy: the training epochs alone (compile, capture and curve evaluation left "
        "out: the span of compute); by phase: each phase's GPU energy; a window shorter than "
        "five updates of its energy counter is n/a, never 0 J",
    ]
    notes.extend(_seed_notes(groups))
    notes.extend(unavailable_notes(groups, ("power.", "energy.")))
    notes.extend(telemetry_notes(groups, _MEMORY_WORDS, others=True))
    return Table(
        title="Cost: power and energy",
        columns=(
            "dataset",
            "method",
            metric("power.mean_w").label,
            metric("power.max_w").label,
            "power samples",
            *(metric(k).label for k in ENERGY_KEYS),
            "epochs energy",
            "energy by phase (GPU)",
        ),
        rows=tuple(rows),
        notes=tuple(notes),
        left=2,
    )


def report_tables(
    runs: Sequence[SavedRun], groups: Sequence[CaseGroup], notes: Sequence[str]
) -> list[Table]:
    """Every table of the report, in order."""
    tables = [runs_table(runs, notes), accuracy_table(groups), time_table(groups)]
    ratios = ratio_table(groups)
    if ratios is not None:
        tables.append(ratios)
    tables.append(compute_memory_table(groups))
    held = held_memory_table(groups)
    if held is not None:
        tables.append(held)
    tables.append(energy_table(groups))
    return tables


def _ff_layers(groups: Sequence[CaseGroup]) -> list[str]:
    # per-layer columns are FF's own: only its phases are layers (other methods may train in
    # phases that are not; their cells are "not applicable")
    layers: dict[str, None] = {}
    for g in groups:
        if g.method == "ff":
            for phase in g.phases():
                layers[phase] = None
    return list(layers)


def _bench_cell(group: CaseGroup) -> str:
    if len(group.cases) > 1:
        return metric_cell(group, "stats.mean")
    stats = group.cases[0].stats
    rounds = int(stats.get("rounds", 1))
    mean = float(stats["mean"])
    stddev = stats.get("stddev")
    text = units.seconds(mean)
    if rounds > 1 and isinstance(stddev, int | float):
        text += f" ± {units.seconds(float(stddev))}"
    return f"{text} ({rounds} round{'s' if rounds != 1 else ''})"


def _accuracy_pair(
    show: Callable[[float | None], str],
    values: tuple[float | None, float | None],
    spreads: tuple[Spread | None, Spread | None],
) -> str:
    """``train / test``, each ± its half-width over several seeds, then ``(n=k)`` once. ``values``
    are what is shown (the means, or their difference from the study's values)."""
    cells = [
        show(v) if s is None else f"{show(v)} ± {units.accuracy(s.half_width)}"
        for v, s in zip(values, spreads, strict=True)
    ]
    counts = sorted({s.n for s in spreads if s is not None})
    suffix = f" (n={'/'.join(map(str, counts))})" if counts else ""
    return " / ".join(cells) + suffix


def _seed_notes(groups: Sequence[CaseGroup]) -> list[str]:
    return [*seed_notes(groups), *spread_notes(groups)]


def _minus(a: float | None, b: float) -> float | None:
    return None if a is None else a - b


def _when(text: str) -> str:
    """A saved run's ISO datetime to the minute: ``2026-11-27 22:03 UTC``."""
    return text[:16].replace("T", " ") + (" UTC" if text.endswith("+00:00") else "")

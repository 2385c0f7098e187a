"""Cases: reading values, merging runs (the later run wins), grouping seeds, derived metrics."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from ff_algos.report.cases import Case, group_cases, merge_cases
from ff_algos.report.metrics import compute_per_epoch, metric, phase_total

RUNS = Path(__file__).parent / "fixtures" / "runs"


def fixture_info() -> dict[str, Any]:
    """extra_info of the first case of a fixture run."""
    path = sorted(RUNS.glob("*/[0-9][0-9][0-9][0-9]_*.json"))[0]
    info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["benchmarks"][0][
        "extra_info"
    ]
    return info


def make_case(
    name: str = "test_fit[mnist-ff-seed0]",
    run: str = "r1",
    when: str = "2026-01-01T00:00:00+00:00",
    **changes: Any,
) -> Case:
    """A case built from a fixture's extra_info with some top-level fields replaced."""
    info = copy.deepcopy(fixture_info())
    info.update(changes)
    return Case(run, when, name, name, {}, {"mean": 1.0, "rounds": 1}, info)


def test_the_record_reads_the_saved_fields_typed() -> None:
    case = make_case(power={"method": None, "samples": 0, "mean_w": None, "max_w": None})
    assert case.record.power.mean_w is None
    assert case.record.power.samples == 0
    assert case.record.power.nvml_match is None  # a field this older record lacks
    assert metric("power.mean_w").get(case) is None
    assert case.record.accuracy.test == pytest.approx(fixture_info()["accuracy"]["test"])
    assert metric("accuracy.test").get(case) == case.record.accuracy.test


def test_phases_and_derived_compute() -> None:
    per_epoch = {"layer1": [1.0, 2.0, 3.0], "layer2": [4.0]}
    case = make_case(compute={"timer": "perf_counter", "total": 10.0, "per_epoch": per_epoch})
    assert case.phases == ["layer1", "layer2"]
    assert case.phase_seconds("layer1") == [1.0, 2.0, 3.0]
    assert case.phase_seconds("train") == []
    assert compute_per_epoch(case) == pytest.approx(10.0 / 4)
    assert phase_total("layer1")(case) == pytest.approx(6.0)
    assert phase_total("train")(case) is None


def test_joules_per_accuracy_point_is_read_from_the_case() -> None:
    energy = {"method": "nvml", "joules": 450.0, "joules_per_accuracy_point": 5.0}
    per_point = metric("energy.joules_per_accuracy_point")
    assert per_point.get(make_case(energy=energy)) == pytest.approx(5.0)
    missing = {**energy, "joules": None, "joules_per_accuracy_point": None}
    assert per_point.get(make_case(energy=missing)) is None


def test_device_label_prefers_the_cpu_model_for_cpu_devices() -> None:
    cpu = make_case(device={"type": "cpu", "name": "x86_64", "index": None})
    assert cpu.device_label == "x86_64 (cpu)"
    named = dataclasses.replace(cpu, host_cpu="AMD EPYC 7B13")
    assert named.device_label == "AMD EPYC 7B13 (cpu)"
    gpu = dataclasses.replace(
        named, info={**named.info, "device": {"type": "cuda", "name": "NVIDIA H100", "index": 0}}
    )
    assert gpu.device_label == "NVIDIA H100 (cuda:0)"


def test_merge_takes_the_later_run_and_says_so() -> None:
    early = make_case(run="old", when="2026-01-01T00:00:00+00:00")
    late = make_case(run="new", when="2026-02-01T00:00:00+00:00")
    other = make_case(name="test_fit[mnist-bp-seed0]", run="old", method="bp")
    # given in either order, the later run (by saved datetime) wins
    newer = ("new", late.run_datetime, [late])
    older = ("old", early.run_datetime, [early, other])
    for order in ([newer, older], [older, newer]):
        merged = merge_cases(order)
        by_name = {c.name: c for c in merged.cases}
        assert by_name["test_fit[mnist-ff-seed0]"].run == "new"
        assert by_name["test_fit[mnist-bp-seed0]"].run == "old"
        assert len(merged.notes) == 1
        assert "using new" in merged.notes[0]


def test_merge_keeps_the_same_test_under_two_recipes() -> None:
    quick = make_case(run="q", when="2026-01-01T00:00:00+00:00")
    recipe = {**quick.recipe, "name": "seed", "epochs": quick.recipe["epochs"] + 1}
    seed = make_case(run="s", when="2026-02-01T00:00:00+00:00", recipe=recipe)
    assert quick.name == seed.name
    merged = merge_cases([("q", quick.run_datetime, [quick]), ("s", seed.run_datetime, [seed])])
    assert sorted(c.run for c in merged.cases) == ["q", "s"]
    assert merged.notes == ()


def test_merge_keeps_a_run_whose_seed_was_set_beside_seed_0() -> None:
    first = make_case(run="a", when="2026-01-01T00:00:00+00:00", seed=0)
    recipe = {**first.recipe, "seed": 1}  # pytest bench ... --set seed=1: test name seed0
    second = make_case(run="b", when="2026-02-01T00:00:00+00:00", seed=1, recipe=recipe)
    assert first.name == second.name
    merged = merge_cases([("a", first.run_datetime, [first]), ("b", second.run_datetime, [second])])
    assert sorted(c.seed for c in merged.cases) == [0, 1]
    assert merged.notes == ()
    (group,) = group_cases(merged.cases)
    assert [c.seed for c in group.cases] == [0, 1]


def test_groups_gather_seeds_and_average_them() -> None:
    acc = fixture_info()["accuracy"]
    cases = [
        make_case(name="s0", seed=0, accuracy={**acc, "test": 0.80}),
        make_case(name="s1", seed=1, accuracy={**acc, "test": 0.90}),
        make_case(name="bp", seed=0, method="bp"),
        make_case(name="fm", seed=0, dataset="fashion_mnist"),
    ]
    groups = group_cases(cases)
    assert [(g.dataset, g.method, len(g.cases)) for g in groups] == [
        ("mnist", "ff", 2),
        ("mnist", "bp", 1),
        ("fashion_mnist", "ff", 1),
    ]
    assert groups[0].mean(metric("accuracy.test").get) == pytest.approx(0.85)
    assert groups[0].mean(lambda c: None) is None  # nothing measured: None, never 0
    # two seeds: sd 0.0707, half-width t_{0.975,1} * 0.0707 / sqrt(2) = 12.706 * 0.05
    spread = groups[0].spread(metric("accuracy.test").get)
    assert spread is not None
    assert spread.n == 2
    assert spread.mean == pytest.approx(0.85)
    assert spread.half_width == pytest.approx(0.6353, abs=1e-4)
    assert groups[1].spread(metric("accuracy.test").get) is None  # one seed: no spread
    assert groups[0].spread(lambda c: None) is None


def test_methods_are_ordered_ff_bp_then_by_name() -> None:
    recipe = fixture_info()["recipe"]
    cases = [
        make_case(name=method, method=method, recipe={**recipe, "name": name})
        for method, name in [("zeta", "a"), ("bp", "b"), ("ff_head", "b"), ("ff", "c")]
    ]
    assert [g.method for g in group_cases(cases)] == ["ff", "bp", "ff_head", "zeta"]


def test_different_recipes_are_different_groups() -> None:
    recipe = fixture_info()["recipe"]
    a = make_case(name="a", recipe={**recipe, "epochs": 1})
    b = make_case(name="b", recipe={**recipe, "epochs": 2})
    assert len(group_cases([a, b])) == 2


def test_group_phase_seconds_average_epoch_by_epoch() -> None:
    def with_epochs(name: str, seed: int, times: list[float]) -> Case:
        compute = {"timer": "perf_counter", "total": sum(times), "per_epoch": {"train": times}}
        return make_case(name=name, seed=seed, compute=compute)

    (group,) = group_cases([with_epochs("a", 0, [1.0, 3.0]), with_epochs("b", 1, [3.0, 5.0])])
    assert group.phase_seconds("train") == [2.0, 4.0]


def test_energy_table_shows_epochs_and_phase_energy() -> None:
    from ff_algos.report.sections import energy_table

    energy = {
        **fixture_info()["energy"],
        "epochs_joules": 1200.0,
        "by_phase": {
            "layer1": {"gpu_j": 700.0, "cpu_package_j": None, "cpu_dram_j": None},
            "layer2": {"gpu_j": None, "cpu_package_j": None, "cpu_dram_j": None},
        },
    }
    table = energy_table(group_cases([make_case(energy=energy)]))
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["epochs energy"] == "1.2 kJ"
    assert row["energy by phase (GPU)"] == "layer1 700 J, layer2 n/a"  # a short phase: never 0 J
    plain = energy_table(group_cases([make_case()]))
    assert dict(zip(plain.columns, plain.rows[0], strict=True))["epochs energy"] == "n/a"


def test_held_memory_table_shows_what_training_holds_where_measured() -> None:
    from ff_algos.report.sections import held_memory_table, report_tables

    held = {
        "saved_for_backward_peak_bytes": 3 * 2**20,
        "parameter_bytes": 2**20,
        "optimizer_state_bytes": 2 * 2**20,
        "rows": 512,
        "cast_parameter_peak_bytes": 2**19,
    }
    memory = {**fixture_info()["memory"], "held": held}
    older = {**held, "saved_for_backward_peak_bytes": 5 * 2**20}
    del older["cast_parameter_peak_bytes"]  # a record made before copies were counted apart
    groups = group_cases(
        [
            make_case(memory=memory),
            make_case(
                name="test_fit[mnist-bp-seed0]", method="bp", memory={**memory, "held": older}
            ),
        ]
    )
    table = held_memory_table(groups)
    assert table is not None
    rows = {r[1]: dict(zip(table.columns, r, strict=True)) for r in table.rows}
    assert rows["FF"]["saved for backward (peak)"] == "3 MiB"
    assert rows["FF"]["parameter copies (peak)"] == "512 KiB"
    assert rows["FF"]["optimiser state"] == "2 MiB"
    assert rows["backprop"]["saved for backward (peak)"] == "5 MiB"
    assert rows["backprop"]["parameter copies (peak)"] == "n/a"
    assert rows["FF"]["rows"] == "512"
    plain = group_cases([make_case(memory={**memory, "held": None})])
    assert held_memory_table(plain) is None
    assert "Memory held by training" not in [t.title for t in report_tables([], plain, [])]


def test_a_field_an_older_record_lacks_reads_as_its_default() -> None:
    from ff_algos.report.cases import recipe_key
    from ff_algos.report.rows import row_label

    old = make_case(run="old", seed=0)
    assert "precision" not in old.recipe  # the fixture was saved before the field existed
    new = make_case(run="new", seed=1, recipe={**old.recipe, "seed": 1, "precision": "fp32"})
    other = make_case(run="bf16", seed=0, recipe={**old.recipe, "precision": "bf16"})
    assert recipe_key(old) == recipe_key(new)  # fp32 is the field's default
    assert recipe_key(other) != recipe_key(new)
    groups = group_cases([old, new, other])
    assert sorted(len(g.cases) for g in groups) == [1, 2]
    assert sorted(row_label(g, groups) for g in groups) == [
        "FF (quick)",
        "FF (quick, precision=bf16)",
    ]

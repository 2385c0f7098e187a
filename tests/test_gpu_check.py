"""The one-call GPU check: its checks on hand-made records (each able to fail), the mapping of
torch's device to CUDA_VISIBLE_DEVICES, and its CPU mode end to end (real MNIST)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from ff_algos.record import (
    READABLE_SCHEMAS,
    CaseRecord,
    Curve,
    CurvePoint,
    Energy,
    HeldMemory,
    PhaseJoules,
    Power,
    Seconds,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests/fixtures/runs/Linux-CPython-3.11-64bit/0001_quick-a.json"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench/gpu_check.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    return module


gc = _load()


def _record(method: str = "bp") -> CaseRecord:
    for bench in json.loads(FIXTURE.read_text())["benchmarks"]:
        info = bench["extra_info"]
        if info.get("schema") in READABLE_SCHEMAS and info["method"] == method:
            return CaseRecord.from_extra_info(info)
    raise AssertionError(f"no {method} case in {FIXTURE}")


def _case(record: CaseRecord, session: str = "methods") -> object:
    return gc.Case(session, record)


def _status(checks: list[object], name: str) -> str:
    found = [c for c in checks if c.name == name]  # type: ignore[attr-defined]
    assert len(found) == 1, found
    return str(found[0].status)  # type: ignore[attr-defined]


def test_compute_beyond_train_less_compile_fails() -> None:
    r = _record()
    seconds = dataclasses.replace(r.seconds, train=10.0)
    ok = dataclasses.replace(r, seconds=seconds, options={"compile_seconds": 2.0}, curve=None)
    ok = dataclasses.replace(ok, compute=dataclasses.replace(r.compute, total=7.5))
    assert _status(gc.compute_checks(_case(ok)), "compute_within_train") == gc.PASS
    assert _status(gc.compute_checks(_case(ok)), "compute_not_implausibly_low") == gc.PASS
    over = dataclasses.replace(ok, compute=dataclasses.replace(r.compute, total=8.5))
    assert _status(gc.compute_checks(_case(over)), "compute_within_train") == gc.FAIL
    low = dataclasses.replace(ok, compute=dataclasses.replace(r.compute, total=0.5))
    assert _status(gc.compute_checks(_case(low)), "compute_not_implausibly_low") == gc.FAIL


def _curve(seconds: list[float]) -> Curve:
    points = tuple(CurvePoint("train", i + 1, s, 0, 0, None, 0.5) for i, s in enumerate(seconds))
    return Curve(100, "carved from the training split", 2, 0.0, None, points)


def test_curve_must_rise_and_end_at_compute() -> None:
    r = _record()
    total = r.compute.total
    good = dataclasses.replace(r, curve=_curve([total / 2, total]))
    assert _status(gc.compute_checks(_case(good)), "curve_seconds") == gc.PASS
    short = dataclasses.replace(r, curve=_curve([total / 2, total * 0.9]))
    assert _status(gc.compute_checks(_case(short)), "curve_seconds") == gc.FAIL
    flat = dataclasses.replace(r, curve=_curve([total, total]))
    assert _status(gc.compute_checks(_case(flat)), "curve_seconds") == gc.FAIL


def _powered(joules: float, train_s: float, mean_w: float, min_window: float) -> CaseRecord:
    r = _record()
    return dataclasses.replace(
        r,
        seconds=Seconds(train_s + 1, 0.1, train_s, 0.01, 0.005, 0.005),
        energy=Energy(method="nvml_energy_counter", joules=joules, min_window_s=min_window),
        power=Power("nvml_power_instant", 40, mean_w, mean_w * 1.2),
    )


def test_energy_of_short_windows_and_power_mismatch_fail() -> None:
    fine = _powered(300.0, 1.0, 310.0, 0.1)
    checks = gc.energy_checks(_case(fine))
    assert _status(checks, "energy_windows") == gc.PASS
    assert _status(checks, "energy_matches_power") == gc.PASS
    # the H100 run: 50.7 J in a 4 ms prediction window (the counter steps every ~20 ms)
    short = dataclasses.replace(
        fine, energy=dataclasses.replace(fine.energy, predict_test_joules=50.7)
    )
    assert _status(gc.energy_checks(_case(short)), "energy_windows") == gc.FAIL
    phase = dataclasses.replace(
        fine,
        energy=dataclasses.replace(
            fine.energy, by_phase={"train": PhaseJoules(30.0, seconds=0.05)}
        ),
    )
    assert _status(gc.energy_checks(_case(phase)), "energy_windows") == gc.FAIL
    mismatch = _powered(300.0, 1.0, 200.0, 0.1)
    assert _status(gc.energy_checks(_case(mismatch)), "energy_matches_power") == gc.FAIL
    few = dataclasses.replace(mismatch, power=dataclasses.replace(mismatch.power, samples=5))
    assert _status(gc.energy_checks(_case(few)), "energy_matches_power") == gc.NA
    cpu = dataclasses.replace(fine, energy=Energy(), power=Power())
    assert _status(gc.energy_checks(_case(cpu)), "energy_windows") == gc.NA


def test_held_parameter_bytes_follow_the_network() -> None:
    bp = dataclasses.replace(_record("bp"), recipe={"hidden": [64, 64], "precision": "fp32"})
    expected = 4 * ((784 + 1) * 64 + (64 + 1) * 64 + (64 + 1) * 10)
    assert gc.expected_parameter_bytes(bp) == expected
    held = HeldMemory(0, expected, 2 * expected, 256)
    right = dataclasses.replace(bp, memory=dataclasses.replace(bp.memory, held=held))
    assert _status(gc.memory_checks(_case(right), False), "held_parameter_bytes") == gc.PASS
    off = dataclasses.replace(held, parameter_bytes=expected - 4)
    bad = dataclasses.replace(bp, memory=dataclasses.replace(bp.memory, held=off))
    assert _status(gc.memory_checks(_case(bad), False), "held_parameter_bytes") == gc.FAIL
    ff = dataclasses.replace(_record("ff"), recipe={"hidden": [64, 64]})
    assert gc.expected_parameter_bytes(ff) == 4 * (784 + 1) * 64  # one optimiser per layer


def test_precision_recorded_must_be_the_one_asked() -> None:
    r = _record()
    same = dataclasses.replace(
        r,
        recipe={**r.recipe, "precision": "bf16"},
        precision={"precision": "bf16"},
        options={"precision": "bf16"},
    )
    assert gc.precision_check(_case(same), False).status == gc.PASS
    other = dataclasses.replace(same, precision={"precision": "fp32"})
    assert gc.precision_check(_case(other), False).status == gc.FAIL
    tf32 = {"precision": "fp32", "matmul_allow_tf32": True, "compute_capability": "9.0"}
    fp32 = dataclasses.replace(
        r, recipe={**r.recipe, "precision": "fp32"}, precision=tf32, options={}
    )
    assert gc.precision_check(_case(fp32), True).status == gc.FAIL  # TF32 on for fp32


def test_captured_runs_must_equal_eager() -> None:
    eager = dataclasses.replace(_record(), losses_final={"train": 0.25})
    captured = dataclasses.replace(
        eager, recipe={**eager.recipe, "compile": "cudagraphs"}, losses_final={"train": 0.25}
    )
    cases = [_case(eager), _case(captured, "cudagraphs")]
    assert _status(gc.captured_checks(cases, True), "captured_equals_eager") == gc.PASS
    drift = dataclasses.replace(captured, losses_final={"train": 0.2501})
    cases = [_case(eager), _case(drift, "cudagraphs")]
    assert _status(gc.captured_checks(cases, True), "captured_equals_eager") == gc.FAIL
    assert _status(gc.captured_checks(cases, False), "captured_equals_eager") == gc.NA


def test_data_peaks_must_be_flat_within_a_session() -> None:
    r = _record()

    def with_peak(peak: int) -> object:
        peaks = dataclasses.replace(r.memory.torch_peak_bytes, data=peak)
        return _case(
            dataclasses.replace(r, memory=dataclasses.replace(r.memory, torch_peak_bytes=peaks))
        )

    flat = [with_peak(100 * gc.MiB), with_peak(100 * gc.MiB + 4096)]
    assert _status(gc.data_peak_checks(flat, True), "data_peak_flat") == gc.PASS
    creep = [with_peak(100 * gc.MiB), with_peak(132 * gc.MiB)]  # a 32 MiB capture pool
    assert _status(gc.data_peak_checks(creep, True), "data_peak_flat") == gc.FAIL
    assert _status(gc.data_peak_checks(creep, False), "data_peak_flat") == gc.NA


@pytest.mark.parametrize(
    ("device", "visible", "entry"),
    [
        ("cuda:1", None, "1"),
        ("cuda", None, "0"),
        ("cuda:1", "4,6", "6"),
        ("cuda:0", "GPU-aaaa,GPU-bbbb", "GPU-aaaa"),
        ("cuda:1", "GPU-aaaa,GPU-bbbb", "GPU-bbbb"),
    ],
)
def test_the_sweep_is_pinned_to_the_checked_gpu(
    monkeypatch: pytest.MonkeyPatch, device: str, visible: str | None, entry: str
) -> None:
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert gc.visible_device(device) == entry


def _methods_sets(device: str, gpus: int) -> list[str]:
    args = argparse.Namespace(device=device, recipe="quick", val_size=500)
    capped = gc.world_cap(device, "quick", gpus)
    methods = gc.plan(args, Path("/data"), Path("/runs"), Path("/out"), capped)[0]
    assert methods.name == "methods"
    return [methods.argv[i + 1] for i, a in enumerate(methods.argv) if a == "--set"]


def test_one_gpu_runs_the_parallel_methods_as_a_world_of_one() -> None:
    assert _methods_sets("cuda", 1) == ["world=1"]  # NCCL: one GPU per rank
    assert _methods_sets("cuda:0", 0) == ["world=1"]
    assert _methods_sets("cuda", 2) == []  # the recipes' own world of 2
    assert _methods_sets("cpu", 0) == []  # gloo ranks share the CPU


def test_mode_sessions_hold_only_methods_whose_recipe_parses_the_mode() -> None:
    from ff_algos import registry
    from ff_algos.suite.overrides import apply_overrides

    args = argparse.Namespace(device="cuda", recipe="quick", val_size=500)
    capped = gc.world_cap("cuda", "quick", 1)
    modes = {s.name: s.argv for s in gc.plan(args, Path("/d"), Path("/r"), Path("/o"), capped)}
    for mode in ("bf16", "tf32", "cudagraphs", "inductor"):
        argv = modes[mode]
        methods = argv[argv.index("--methods") + 1].split(",")
        sets = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--set")
        assert {"ff", "bp"} <= set(methods), mode
        assert not {"ff_pipe", "bp_parallel"} & set(methods), mode  # fp32 eager only
        for method in methods:  # what the session's --set does to each: no error
            apply_overrides(registry.recipe(method, "quick"), sets)


@pytest.mark.real_data
def test_cpu_mode_end_to_end(tmp_path: Path, real_data_root: Callable[[str], Path]) -> None:
    root = real_data_root("mnist")
    out = tmp_path / "check"
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    argv = [
        sys.executable, str(REPO / "bench/gpu_check.py"), "--device", "cpu",
        "--recipe", "tiny", "--no-install", "--no-report", "--folder", str(out),
        "--data-root", str(root), "--val-size", "200", "--deadline", "300",
    ]  # fmt: skip
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert (out / "gpu_check.md").is_file(), done.stdout + done.stderr
    data = json.loads((out / "checks.json").read_text())
    failed = [c for c in data["checks"] if c["status"] == gc.FAIL]
    assert not failed, failed
    assert done.returncode == 0, done.stdout[-2000:]
    assert data["provenance"]["device"] == "cpu"
    assert data["provenance"]["commit"]
    assert data["provenance"]["cpu"]  # every published run names its CPU
    sessions = {s["name"]: s for s in data["sessions"]}
    assert sessions["methods"]["exit_code"] == 0  # the first session always runs to the end
    from ff_algos import registry

    tiny = {m for m in registry.names() if "tiny" in registry.get(m).recipes}
    checked = {
        c["subject"].split("/")[2]
        for c in data["checks"]
        if c["name"] == "compute_within_train" and c["subject"].startswith("methods/")
    }
    assert checked == tiny
    # checks that need CUDA are not applicable here, never passed
    for c in data["checks"]:
        if c["name"] in ("predict_peak_le_train", "data_peak_flat", "captured_equals_eager"):
            assert c["status"] == gc.NA, c
    assert "## Provenance" in (out / "gpu_check.md").read_text()

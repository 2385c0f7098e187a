"""One benchmark case: load a dataset, fit one method's recipe, evaluate, and measure all of it.

:func:`run_case` is what ``pytest bench/`` times with ``benchmark.pedantic``; it is plain Python so
a script can run a case without pytest. Its result is the case's typed record
(:class:`~ff_algos.record.CaseRecord`), built here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ff_algos import registry
from ff_algos.data import LoadedDataset, Split, load_dataset
from ff_algos.fitting import FitResult, accuracy, fit, training_rows, validation_split
from ff_algos.method import FanOut, TrainObserver, recipe_dict
from ff_algos.methods.common.compiled import load_compiler
from ff_algos.methods.common.precision import cpu_native_bf16, precision_scope, product_dtype
from ff_algos.record import (
    AccuracyRecord,
    CaseRecord,
    DataRecord,
    DeviceRecord,
    HeldMemory,
    PredictorScore,
    parallel_from,
)
from ff_algos.study_recipe import like_the_study
from ff_algos.suite.floors import Floor
from ff_algos.telemetry import (
    TelemetrySession,
    measured_sections,
    precision_state,
    release_cached_memory,
)
from ff_algos.telemetry.curve import CurveObserver
from ff_algos.telemetry.held_memory import HeldMemoryMeter
from ff_algos.telemetry.machine import cpu_model
from ff_algos.telemetry.peak_flops import PeakResult
from ff_algos.telemetry.phase_energy import PhaseEnergy


@dataclass(frozen=True)
class CaseSpec:
    """What one case runs."""

    dataset: str
    recipe: Any  # the method's frozen recipe dataclass
    device: torch.device
    data_root: Path | None
    curve_points: int = 0  # learning-curve points per phase (0: no curve)
    val_size: int | None = None  # validation rows (None: auto, see methods.validation_split)
    allow_unverified: bool = False  # data files that differ from the published digests


def _load(spec: CaseSpec) -> LoadedDataset:
    return load_dataset(
        spec.dataset,
        device=spec.device,
        root=spec.data_root,
        allow_unverified=spec.allow_unverified,
    )


def warm_up(spec: CaseSpec) -> None:
    """Run the case's code paths once on a few rows, untimed, so that one-off costs (kernel
    selection, allocator growth, lazy initialisation) stay out of the measured run."""
    data = _load(spec)
    method = registry.get(spec.recipe.method)
    # eager: compiling and capturing are timed inside the case (``options.compile_seconds``);
    # torch.compile's one-off imports are not compilation, so they happen here, untimed
    if getattr(spec.recipe, "compile", "none") == "inductor":
        load_compiler()
    short = method.warm_up_recipe(spec.recipe, min(512, len(data.train)))
    result = fit(short, data)
    for model in (result.model, *result.predictors.values()):
        accuracy(model, result.train)
    del data, result
    release_cached_memory(spec.device)  # so the warm-up's cached blocks do not count in NVML


def held_memory(spec: CaseSpec) -> HeldMemory:
    """What training holds by its own account (peak bytes of activations and of parameter copies
    saved for backward, parameters and optimiser state; :mod:`ff_algos.telemetry.held_memory`),
    counted on an untimed eager run at the case's shapes: one epoch of one step per phase for
    mini-batch recipes, one epoch on every training row for full-batch ones (the batch is then
    all of them)."""
    data = _load(spec)
    fit_data, _, _ = validation_split(spec.recipe, data, spec.val_size)
    n_train = len(training_rows(spec.recipe, fit_data))
    batch = getattr(spec.recipe, "batch_size", None)
    rows = n_train if batch is None else min(n_train, batch)
    probe = registry.get(spec.recipe.method).warm_up_recipe(spec.recipe, rows)
    with HeldMemoryMeter() as meter:
        fit(probe, fit_data)
    del data, fit_data
    release_cached_memory(spec.device)
    return meter.result(rows)


def case_peak(session: TelemetrySession, spec: CaseSpec) -> PeakResult:
    """The device's measured matmul peak in the case's precision (bf16 products, or float32
    with or without TF32), measured once per session and precision, then cached."""
    dtype = product_dtype(spec.recipe.precision) or torch.float32
    with precision_scope(spec.recipe.precision, spec.device):
        return session.peak_flops(dtype)


def run_case(
    spec: CaseSpec,
    session: TelemetrySession,
    floor: Floor,
    observer: TrainObserver,
    recipe_name: str | None = None,
    held: HeldMemory | None = None,
) -> CaseRecord:
    """Run and measure one case (``recipe_name``: the name the recipe was chosen by; ``held``:
    :func:`held_memory`, measured before, untimed)."""
    clock = session.epoch_clock()
    gpu, rapl = session.nvml_gpu()[0], session.rapl()[0]
    steps = session.counter_steps()
    phase_energy = PhaseEnergy(spec.device, gpu, rapl, gpu_step=steps.gpu, cpu_step=steps.cpu)
    method = registry.get(spec.recipe.method)
    with session.window("end_to_end") as e2e:
        with session.window("data") as w_data:
            data = _load(spec)
            fit_data, val, val_source = validation_split(spec.recipe, data, spec.val_size)
        info = data.info
        n_train = len(training_rows(spec.recipe, fit_data))
        flops = method.flops(spec.recipe, n_train, info)
        executed = method.executed_flops(spec.recipe, n_train, info)
        curve = None
        if val is not None and spec.curve_points > 0:
            curve = CurveObserver(
                clock,
                val,
                spec.curve_points,
                executed,
                flops.train,
                val_source=val_source,
                gpu=gpu,
                rapl=rapl,
                energy_step=steps.gpu if gpu is not None else steps.cpu,
            )
        watchers: list[TrainObserver] = [clock, phase_energy, observer]
        if curve is not None:
            watchers.append(curve)
        with session.window("train") as w_train:
            result = fit(spec.recipe, fit_data, observer=FanOut(watchers))
        # prediction in the recipe's precision too (fp32: no TF32 in cuDNN or cuBLAS either)
        with precision_scope(spec.recipe.precision, spec.device):
            with session.window("predict_train") as w_predict_train:
                train_acc = accuracy(result.model, result.train)
            with session.window("predict_test") as w_predict_test:
                test_acc = accuracy(result.model, data.test)
            predictors = _score_predictors(session, result, data.test)
    peak = case_peak(session, spec)  # cached: measured before the case
    curve_joules, curve_reason = curve.epochs_joules() if curve is not None else (None, None)
    measured = measured_sections(
        {
            "data": w_data.result,
            "train": w_train.result,
            "predict_train": w_predict_train.result,
            "predict_test": w_predict_test.result,
            "end_to_end": e2e.result,
        },
        clock.result(),
        flops,
        len(data.test),
        peak,
        test_accuracy=test_acc,
        executed_train_flops=sum(executed.values()),
        executed_by_phase=executed,
        energy_by_phase=phase_energy.phases,
        phase_unavailable=phase_energy.unavailable,
        gpu_step=steps.gpu,
        cpu_step=steps.cpu,
        sample_hz=session.config.sample_hz,
        curve_epochs_joules=curve_joules,
        curve_reason=curve_reason,
    )
    unavailable = dict(measured.unavailable)
    passed = floor.check(test_acc)
    if floor.value is None:
        unavailable["accuracy.floor"] = unavailable["accuracy.passed"] = floor.reason or ""
    if held is None:
        unavailable["memory.held"] = "not measured (held_memory was not run for this case)"
    curve_record = curve.result() if curve is not None else None
    if curve_record is None:
        unavailable["curve"] = val_source if val is None else "--curve-points 0"
    elif not curve_record.points:
        unavailable["curve"] = f"{method.name} offers no model to score during training"
        curve_record = None
    with precision_scope(spec.recipe.precision, spec.device):
        precision = precision_state(spec.device)
    options = dict(result.options)
    parallel = parallel_from(options.pop("parallel", None))  # a multi-process world's section
    return CaseRecord.build(
        dataclasses.replace(measured, memory=dataclasses.replace(measured.memory, held=held)),
        dataset=info.name,
        method=spec.recipe.method,
        recipe=recipe_dict(spec.recipe),
        recipe_name=recipe_name,
        seed=spec.recipe.seed,
        device=device_record(spec.device),
        accuracy=AccuracyRecord(train_acc, test_acc, floor.value, passed, predictors),
        study=like_the_study(spec.recipe, data.checked),
        precision={
            "precision": spec.recipe.precision,
            **precision,
            "autocast_dtype": result.options.get("product_dtype"),
            "cpu_native_bf16": cpu_native_bf16() if spec.device.type == "cpu" else None,
        },
        data=DataRecord(data.source, n_train, len(data.test), data.load_seconds, data.checked),
        losses_final={phase: losses[-1] for phase, losses in result.losses.items() if losses},
        options=options,
        unavailable=unavailable,
        curve=curve_record,
        parallel=parallel,
    )


def _score_predictors(
    session: TelemetrySession, result: FitResult, test: Split
) -> dict[str, PredictorScore]:
    """Test accuracy and prediction seconds of each further predictor (e.g. a linear head)."""
    scores: dict[str, PredictorScore] = {}
    for name, model in result.predictors.items():
        with session.window(f"predict_{name}") as window:
            test_acc = accuracy(model, test)
        scores[name] = PredictorScore(test_acc, window.result.seconds)
    return scores


def device_record(device: torch.device) -> DeviceRecord:
    """Type, human-readable name and index of the device a case ran on."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return DeviceRecord("cuda", torch.cuda.get_device_name(index), index)
    return DeviceRecord(device.type, cpu_model() or platform.machine(), None)

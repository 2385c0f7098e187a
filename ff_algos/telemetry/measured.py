"""Telemetry results mapped onto the measured sections of the result record
(:mod:`ff_algos.record`).

:func:`measured_sections` fills the record's ``seconds``, ``compute``, ``flops``, ``memory``,
``power`` and ``energy`` sections, the matching ``unavailable`` reasons (dotted field names) and
``notes`` (caveats on values that were measured, saved as ``telemetry_notes``). The suite adds
the rest (dataset, method, recipe, accuracy, ...). Windows: "data", "train", "predict_train"
(predicting the training split), "predict_test" (predicting the test split only) and
"end_to_end". Choices made here:

* ``seconds.eval`` is ``predict_train + predict_test``; ``memory.torch_peak_bytes.eval`` is the
  larger of the two predict windows' peaks.
* ``flops.train_per_s`` is the analytic (model) training FLOPs over the training epochs' compute
  time (``compute.total``: compile/capture time and setup excluded; the "train" window's wall
  time where no epoch was timed); ``flops.rate_seconds`` is the time used; ``flops.predict``
  is the prediction FLOPs for ``test_points`` samples.
  ``flops.executed_train`` is the FLOPs the training actually executed (counted by the caller,
  null when not counted). ``flops.utilisation`` is the executed rate over the measured peak when
  executed FLOPs are given, else the model rate (``flops.utilisation_basis`` says which);
  ``flops.model_utilisation`` is always the model rate over the peak.
* ``power`` and ``energy.joules`` describe the "train" window, as do ``energy.cpu_*`` (RAPL);
  ``energy.joules_per_accuracy_point`` is that energy over the test accuracy in percentage
  points; ``energy.predict_test_joules`` is the "predict_test" window's energy and
  ``energy.joules_per_test_point`` that energy over ``test_points``.
* ``energy.epochs_joules`` is the GPU energy of the training epochs alone, the same span as
  ``compute.total``: the learning curve's energy so far at its last point where a curve was
  measured with NVML's counter (evaluation excluded), else the sum of the phases' energies
  (``energy.by_phase``: phase start to phase end, compiling and capturing before it). Energies of
  windows too short for their counter are null (:mod:`ff_algos.telemetry.resolution`);
  ``energy.counter_period_s``, ``energy.min_window_s`` and ``energy.cpu_min_window_s`` record the
  counters' measured resolution.
* ``memory.nvml_used_peak_bytes`` and ``memory.host_peak_rss_bytes`` are the maxima over all
  windows.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ff_algos.method import FlopCount
from ff_algos.record import (
    Compute,
    Energy,
    Flops,
    Measured,
    Memory,
    PhaseJoules,
    Power,
    Seconds,
    TorchPeaks,
)
from ff_algos.telemetry.config import TelemetryError
from ff_algos.telemetry.energy import INTEGRAL
from ff_algos.telemetry.epoch_clock import EpochTimes
from ff_algos.telemetry.flops import flop_rate
from ff_algos.telemetry.peak_flops import PeakResult, dtype_name
from ff_algos.telemetry.resolution import CounterStep, sampled_step
from ff_algos.telemetry.window import WindowResult

WINDOWS = ("data", "train", "predict_train", "predict_test", "end_to_end")
PREDICT_WINDOWS = ("predict_train", "predict_test")
EXECUTED = "executed"  # flops.utilisation_basis: executed FLOPs over the peak
MODEL = "model"  # flops.utilisation_basis: analytic model FLOPs over the peak
NOT_COUNTED = "not counted"


def _peak_of(windows: Mapping[str, WindowResult], field: str) -> tuple[int | None, str]:
    values = [getattr(w, field) for w in windows.values() if getattr(w, field) is not None]
    if values:
        return max(values), ""
    return None, windows["train"].unavailable.get(field, "not measured")


def _torch_peaks(windows: Mapping[str, WindowResult], unavailable: dict[str, str]) -> TorchPeaks:
    peaks: dict[str, int | None] = {}
    for name in ("data", "train", *PREDICT_WINDOWS):
        peaks[name] = windows[name].torch_peak_bytes
        if peaks[name] is None:
            unavailable[f"memory.torch_peak_bytes.{name}"] = windows[name].unavailable.get(
                "torch_peak_bytes", "not measured"
            )
    predicted = [p for name in PREDICT_WINDOWS if (p := peaks[name]) is not None]
    if not predicted:
        unavailable["memory.torch_peak_bytes.eval"] = unavailable[
            "memory.torch_peak_bytes.predict_test"
        ]
    return TorchPeaks(eval=max(predicted) if predicted else None, **peaks)


def measured_sections(
    windows: Mapping[str, WindowResult],
    compute: EpochTimes,
    flops: FlopCount,
    test_points: int,
    peak: PeakResult | None,
    *,
    test_accuracy: float,
    peak_reason: str | None = None,
    dtype: torch.dtype = torch.float32,
    executed_train_flops: int | None = None,
    executed_by_phase: Mapping[str, int] | None = None,
    energy_by_phase: Mapping[str, PhaseJoules] | None = None,
    phase_unavailable: Mapping[str, str] | None = None,
    gpu_step: CounterStep | None = None,
    cpu_step: CounterStep | None = None,
    sample_hz: float | None = None,
    curve_epochs_joules: float | None = None,
    curve_reason: str | None = None,
) -> Measured:
    """The record's measured sections from the results of the :data:`WINDOWS` windows.

    ``executed_train_flops`` is the FLOPs training really executed (None: not counted),
    ``executed_by_phase`` the same per training phase, ``energy_by_phase`` the energy of each
    training phase (:class:`~ff_algos.telemetry.phase_energy.PhaseEnergy`) with the reasons of
    its nulls in ``phase_unavailable``; ``gpu_step``/``cpu_step`` the counters' resolution
    (``sample_hz`` the power sampling rate, the resolution of an integral);
    ``curve_epochs_joules`` the curve's NVML energy so far at its last point (``curve_reason``:
    why it is None where a curve ran).
    """
    missing = [name for name in WINDOWS if name not in windows]
    if missing:
        raise TelemetryError(f"missing telemetry windows {missing}; measure all of {WINDOWS}")
    if test_points <= 0:
        raise TelemetryError(f"test_points={test_points}; pass the number of test samples")
    if executed_train_flops is not None and executed_train_flops < 0:
        raise TelemetryError(f"executed_train_flops={executed_train_flops} is negative")
    train, predict_test = windows["train"], windows["predict_test"]
    unavailable: dict[str, str] = {}
    notes: dict[str, str] = {}

    for name in WINDOWS:
        for field, note in windows[name].notes.items():
            notes[f"{name}.{field}"] = note

    rate_seconds = compute.total if compute.total > 0 else train.seconds
    model_rate = flop_rate(flops.train, rate_seconds, peak)
    executed_per_s = None
    utilisation, basis = model_rate.utilisation, MODEL
    if executed_train_flops is None:
        unavailable["flops.executed_train"] = NOT_COUNTED
        unavailable["flops.executed_train_per_s"] = NOT_COUNTED
    else:
        executed = flop_rate(executed_train_flops, rate_seconds, peak)
        executed_per_s = executed.per_s
        utilisation, basis = executed.utilisation, EXECUTED
        if utilisation is not None and utilisation > 1.0:
            notes["flops.utilisation"] = (
                f"executed FLOP/s is {utilisation:.2f}x the measured matmul peak; "
                "the FLOP count or the peak measurement is off"
            )
    if peak is None:
        reason = peak_reason or "peak FLOP/s not measured"
        for key in ("peak_per_s", "peak_matmul_precision", "utilisation", "model_utilisation"):
            unavailable[f"flops.{key}"] = reason
    elif model_rate.utilisation is None:
        for key in ("utilisation", "model_utilisation"):
            unavailable[f"flops.{key}"] = f"the measured peak is {peak.flops_per_s} FLOP/s"

    torch_peaks = _torch_peaks(windows, unavailable)
    nvml_peak, nvml_reason = _peak_of(windows, "nvml_used_peak_bytes")
    host_peak, host_reason = _peak_of(windows, "host_peak_rss_bytes")
    if nvml_peak is None:
        unavailable["memory.nvml_used_peak_bytes"] = nvml_reason
    if host_peak is None:
        unavailable["memory.host_peak_rss_bytes"] = host_reason

    for schema_key, field in (
        ("power.method", "power_method"),
        ("power.nvml_match", "nvml_match"),
        ("power.mean_w", "power_mean_w"),
        ("power.max_w", "power_max_w"),
        ("energy.method", "energy_method"),
        ("energy.joules", "energy_j"),
        ("energy.cpu_method", "cpu_energy_method"),
        ("energy.cpu_package_joules", "cpu_package_j"),
        ("energy.cpu_dram_joules", "cpu_dram_j"),
    ):
        if getattr(train, field) is None:
            unavailable[schema_key] = train.unavailable.get(field, "not measured")
    per_accuracy_point = None
    if train.energy_j is None:
        unavailable["energy.joules_per_accuracy_point"] = unavailable["energy.joules"]
    elif test_accuracy <= 0:
        unavailable["energy.joules_per_accuracy_point"] = "test accuracy is zero"
    else:
        per_accuracy_point = train.energy_j / (100.0 * test_accuracy)
    epochs_joules, epochs_reason = _epochs_joules(
        train, energy_by_phase or {}, curve_epochs_joules, curve_reason
    )
    if epochs_joules is None:
        unavailable["energy.epochs_joules"] = epochs_reason
    unavailable.update(phase_unavailable or {})
    step = gpu_step
    if train.energy_method == INTEGRAL and sample_hz:
        step = sampled_step(INTEGRAL, sample_hz)
    if train.energy_method is not None and step is None:
        unavailable["energy.counter_period_s"] = unavailable["energy.min_window_s"] = (
            "the counter's resolution was not probed"
        )
    elif step is None:
        unavailable["energy.counter_period_s"] = unavailable["energy.min_window_s"] = (
            unavailable.get("energy.method", "no GPU energy counter")
        )
    else:
        notes["energy.min_window_s"] = step.describe()
    if cpu_step is None:
        unavailable["energy.cpu_min_window_s"] = unavailable.get(
            "energy.cpu_method", "RAPL's resolution was not probed"
        )
    else:
        notes["energy.cpu_min_window_s"] = cpu_step.describe()
    per_point = None
    if predict_test.energy_j is None:
        reason = "predict_test window: " + predict_test.unavailable.get("energy_j", "not measured")
        unavailable["energy.predict_test_joules"] = reason
        unavailable["energy.joules_per_test_point"] = reason
    else:
        per_point = predict_test.energy_j / test_points

    return Measured(
        seconds=Seconds(
            end_to_end=windows["end_to_end"].seconds,
            data=windows["data"].seconds,
            train=train.seconds,
            eval=sum(windows[name].seconds for name in PREDICT_WINDOWS),
            predict_train=windows["predict_train"].seconds,
            predict_test=predict_test.seconds,
        ),
        compute=Compute(
            timer=compute.timer,
            total=compute.total,
            per_epoch={phase: tuple(times) for phase, times in compute.per_epoch.items()},
        ),
        flops=Flops(
            train=flops.train,
            predict=flops.predict_for(test_points),
            train_per_s=model_rate.per_s,
            rate_seconds=rate_seconds,
            executed_train=executed_train_flops,
            executed_train_per_s=executed_per_s,
            peak_per_s=model_rate.peak_per_s,
            peak_dtype=peak.dtype if peak is not None else dtype_name(dtype),
            peak_matmul_precision=peak.matmul_precision if peak is not None else None,
            utilisation=utilisation,
            utilisation_basis=basis,
            model_utilisation=model_rate.utilisation,
            executed_by_phase=dict(executed_by_phase or {}),
        ),
        memory=Memory(
            torch_peak_bytes=torch_peaks,
            nvml_used_peak_bytes=nvml_peak,
            host_peak_rss_bytes=host_peak,
        ),
        power=Power(
            method=train.power_method,
            nvml_match=train.nvml_match,
            samples=train.power_samples,
            mean_w=train.power_mean_w,
            max_w=train.power_max_w,
        ),
        energy=Energy(
            method=train.energy_method,
            joules=train.energy_j,
            joules_per_accuracy_point=per_accuracy_point,
            predict_test_joules=predict_test.energy_j,
            joules_per_test_point=per_point,
            cpu_method=train.cpu_energy_method,
            cpu_package_joules=train.cpu_package_j,
            cpu_dram_joules=train.cpu_dram_j,
            by_phase=dict(energy_by_phase or {}),
            counter_period_s=None if step is None else step.period_s,
            min_window_s=None if step is None else step.min_window_s,
            cpu_min_window_s=None if cpu_step is None else cpu_step.min_window_s,
            epochs_joules=epochs_joules,
        ),
        unavailable=unavailable,
        notes=notes,
    )


def _epochs_joules(
    train: WindowResult,
    by_phase: Mapping[str, PhaseJoules],
    curve_joules: float | None,
    curve_reason: str | None,
) -> tuple[float | None, str]:
    """The GPU energy of the epochs alone (module doc), or None and why."""
    if train.energy_j is None:
        return None, "train window: " + train.unavailable.get("energy_j", "not measured")
    if curve_joules is not None:
        return curve_joules, ""
    if curve_reason is not None:
        return None, f"learning curve: {curve_reason}"
    phases = [p.gpu_j for p in by_phase.values()]
    if not phases or any(j is None for j in phases):
        return None, "a training phase's GPU energy is null (see energy.by_phase)"
    return sum(j for j in phases if j is not None), ""

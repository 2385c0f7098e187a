"""Telemetry results mapped onto the saved-result layout of :mod:`ff_algos.schema`.

:func:`telemetry_extra_info` fills the schema's ``seconds``, ``compute``, ``flops``, ``memory``,
``power`` and ``energy`` sections, the matching ``unavailable`` reasons (dotted schema paths) and
``telemetry_notes`` (caveats on values that were measured). The benchmark suite adds the rest
(dataset, method, recipe, accuracy, ...). Choices made here:

* ``flops.train_per_s`` is the analytic training FLOPs over the synced wall time of the
  "train" window; ``flops.predict`` is the prediction FLOPs for ``test_points`` samples.
* ``power`` and ``energy.joules`` describe the "train" window;
  ``energy.joules_per_accuracy_point`` is that energy over the test accuracy in percentage points;
  ``energy.joules_per_test_point`` is the "eval" window's energy over ``test_points``.
* ``memory.nvml_used_peak_bytes`` and ``memory.host_peak_rss_bytes`` are the maxima over all
  windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ff_algos.recipes import FlopCount
from ff_algos.telemetry.config import TelemetryError
from ff_algos.telemetry.epoch_clock import EpochTimes
from ff_algos.telemetry.flops import flop_rate
from ff_algos.telemetry.peak_flops import PeakResult, dtype_name
from ff_algos.telemetry.window import WindowResult

WINDOWS = ("data", "train", "eval", "end_to_end")


def _peak_of(windows: Mapping[str, WindowResult], field: str) -> tuple[int | None, str]:
    values = [getattr(w, field) for w in windows.values() if getattr(w, field) is not None]
    if values:
        return max(values), ""
    return None, windows["train"].unavailable.get(field, "not measured")


def telemetry_extra_info(
    windows: Mapping[str, WindowResult],
    compute: EpochTimes,
    flops: FlopCount,
    test_points: int,
    peak: PeakResult | None,
    *,
    test_accuracy: float,
    peak_reason: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, Any]:
    """Schema sections from the "data", "train", "eval" and "end_to_end" window results."""
    missing = [name for name in WINDOWS if name not in windows]
    if missing:
        raise TelemetryError(f"missing telemetry windows {missing}; measure all of {WINDOWS}")
    if test_points <= 0:
        raise TelemetryError(f"test_points={test_points}; pass the number of test samples")
    train, evaluation = windows["train"], windows["eval"]
    unavailable: dict[str, str] = {}
    notes: dict[str, str] = {}

    rate = flop_rate(flops.train, train.seconds, peak)
    if peak is None:
        reason = peak_reason or "peak FLOP/s not measured"
        unavailable["flops.peak_per_s"] = unavailable["flops.utilisation"] = reason

    torch_peaks: dict[str, int | None] = {}
    for name in ("data", "train", "eval"):
        torch_peaks[name] = windows[name].torch_peak_bytes
        if torch_peaks[name] is None:
            unavailable[f"memory.torch_peak_bytes.{name}"] = windows[name].unavailable.get(
                "torch_peak_bytes", "not measured"
            )
    nvml_peak, nvml_reason = _peak_of(windows, "nvml_used_peak_bytes")
    host_peak, host_reason = _peak_of(windows, "host_peak_rss_bytes")
    if nvml_peak is None:
        unavailable["memory.nvml_used_peak_bytes"] = nvml_reason
    if host_peak is None:
        unavailable["memory.host_peak_rss_bytes"] = host_reason

    for schema_key, field in (
        ("power.method", "power_method"),
        ("power.mean_w", "power_mean_w"),
        ("power.max_w", "power_max_w"),
        ("energy.method", "energy_method"),
        ("energy.joules", "energy_j"),
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
    per_point = None
    if evaluation.energy_j is None:
        unavailable["energy.joules_per_test_point"] = "eval window: " + evaluation.unavailable.get(
            "energy_j", "not measured"
        )
    else:
        per_point = evaluation.energy_j / test_points

    for name in WINDOWS:
        for field, note in windows[name].notes.items():
            notes[f"{name}.{field}"] = note

    return {
        "seconds": {name: windows[name].seconds for name in WINDOWS},
        "compute": {
            "timer": compute.timer,
            "total": compute.total,
            "per_epoch": {phase: list(times) for phase, times in compute.per_epoch.items()},
        },
        "flops": {
            "train": flops.train,
            "predict": flops.predict_for(test_points),
            "train_per_s": rate.per_s,
            "peak_per_s": rate.peak_per_s,
            "peak_dtype": peak.dtype if peak is not None else dtype_name(dtype),
            "utilisation": rate.utilisation,
        },
        "memory": {
            "torch_peak_bytes": torch_peaks,
            "nvml_used_peak_bytes": nvml_peak,
            "host_peak_rss_bytes": host_peak,
        },
        "power": {
            "method": train.power_method,
            "samples": train.power_samples,
            "mean_w": train.power_mean_w,
            "max_w": train.power_max_w,
        },
        "energy": {
            "method": train.energy_method,
            "joules": train.energy_j,
            "joules_per_accuracy_point": per_accuracy_point,
            "joules_per_test_point": per_point,
        },
        "unavailable": unavailable,
        "telemetry_notes": notes,
    }

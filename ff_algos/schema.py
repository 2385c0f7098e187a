"""The versioned schema of one benchmark case's ``extra_info`` in saved pytest-benchmark JSON.

Every saved case carries these keys (``SCHEMA_VERSION`` names the layout). A value that could not
be measured on this machine is ``null`` and its reason is under ``unavailable`` (key: the dotted
field name), so that reports show "n/a" rather than zero.

Layout (types after the colon; ``?`` marks a nullable value)::

    schema: str                       "ff-bench/1"
    dataset: str                      canonical lower-case name, e.g. "mnist"
    method: str                       "ff" or "bp"
    recipe: object                    every recipe field (see ff_algos.recipes), plus "method"
    seed: int
    device: {type: str, name: str, index: int?}
    accuracy: {train: float, test: float, floor: float?, passed: bool?}
    seconds: {end_to_end: float, data: float, train: float, eval: float}
    compute: {timer: str, total: float, per_epoch: {phase: [float]}}
        timer is "cuda_event" or "perf_counter"; phases are "layer1", "layer2", ... for FF and
        "train" for backprop; per_epoch holds seconds per epoch of each phase
    flops: {train: int, predict: int, train_per_s: float, peak_per_s: float?, peak_dtype: str,
            utilisation: float?}
    memory: {torch_peak_bytes: {data: int?, train: int?, eval: int?}, nvml_used_peak_bytes: int?,
             host_peak_rss_bytes: int?}
    power: {method: str?, samples: int, mean_w: float?, max_w: float?}
    energy: {method: str?, joules: float?, joules_per_accuracy_point: float?,
             joules_per_test_point: float?}
        joules: the training window; joules_per_accuracy_point: that energy over the test accuracy
        in percentage points; joules_per_test_point: evaluation energy per test sample
    options: {compiled: bool, ...}    implementation choices that ran (recorded, not configured)
    unavailable: {field: reason}

Informational keys, not validated: ``recipe_name``, ``data`` (source, rows, load seconds),
``losses_final`` (last epoch's loss per phase), ``telemetry_notes`` (caveats on measured values).
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = "ff-bench/1"

_NUM = (int, float)
_N = type(None)

# dotted path -> accepted types
_FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (str,),
    "dataset": (str,),
    "method": (str,),
    "recipe": (dict,),
    "seed": (int,),
    "device": (dict,),
    "device.type": (str,),
    "device.name": (str,),
    "accuracy.train": _NUM,
    "accuracy.test": _NUM,
    "accuracy.floor": (*_NUM, _N),
    "accuracy.passed": (bool, _N),
    "seconds.end_to_end": _NUM,
    "seconds.data": _NUM,
    "seconds.train": _NUM,
    "seconds.eval": _NUM,
    "compute.timer": (str,),
    "compute.total": _NUM,
    "compute.per_epoch": (dict,),
    "flops.train": (int,),
    "flops.predict": (int,),
    "flops.train_per_s": _NUM,
    "flops.peak_per_s": (*_NUM, _N),
    "flops.peak_dtype": (str,),
    "flops.utilisation": (*_NUM, _N),
    "memory.torch_peak_bytes": (dict,),
    "memory.nvml_used_peak_bytes": (int, _N),
    "memory.host_peak_rss_bytes": (int, _N),
    "power.method": (str, _N),
    "power.samples": (int,),
    "power.mean_w": (*_NUM, _N),
    "power.max_w": (*_NUM, _N),
    "energy.method": (str, _N),
    "energy.joules": (*_NUM, _N),
    "energy.joules_per_accuracy_point": (*_NUM, _N),
    "energy.joules_per_test_point": (*_NUM, _N),
    "options": (dict,),
    "unavailable": (dict,),
}


def lookup(info: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted path (``"seconds.train"``); ``KeyError`` names the missing part."""
    value: Any = info
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(dotted)
        value = value[part]
    return value


def validate(info: dict[str, Any]) -> list[str]:
    """Problems with ``info`` as an ff-bench ``extra_info`` (empty when it conforms)."""
    problems: list[str] = []
    if info.get("schema") != SCHEMA_VERSION:
        problems.append(f"schema is {info.get('schema')!r}, expected {SCHEMA_VERSION!r}")
    for path, types_ in _FIELDS.items():
        try:
            value = lookup(info, path)
        except KeyError:
            problems.append(f"missing {path}")
            continue
        # bool is an int subclass; do not let True pass as a number
        if isinstance(value, bool) and bool not in types_:
            problems.append(f"{path} is a bool, expected {_names(types_)}")
        elif not isinstance(value, types_):
            problems.append(f"{path} is {type(value).__name__}, expected {_names(types_)}")
    for path in _FIELDS:
        if path in ("schema",):
            continue
        try:
            value = lookup(info, path)
        except KeyError:
            continue
        unavailable = info.get("unavailable", {})
        if value is None and isinstance(unavailable, dict) and path not in unavailable:
            problems.append(f"{path} is null without a reason under 'unavailable'")
    return problems


def _names(types_: tuple[type, ...]) -> str:
    return " or ".join("null" if t is _N else t.__name__ for t in types_)

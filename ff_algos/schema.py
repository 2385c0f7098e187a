"""The versioned schema of one benchmark case's ``extra_info`` in saved pytest-benchmark JSON.

The typed form of the same record is :class:`ff_algos.record.CaseRecord` (built by the suite,
serialised to this layout, read back by the report); this module documents the saved layout and
validates saved JSON against it.

What each window holds (one accounting for time, energy and FLOP rates):

* **train window** (``seconds.train``, ``energy.joules``, ``power.*``, ``energy.cpu_*``,
  ``energy.joules_per_accuracy_point``): everything the method's ``fit`` does, from the call to
  its return: setup, compiling or graph capture (``options.compile_seconds``; Dynamo's one-off
  import happens in the untimed warm-up), every epoch, and the learning curve's evaluations
  (``curve.eval_seconds``). ``energy.joules / seconds.train`` is the window's mean power.
* **compute** (``compute.total``, ``compute.per_epoch``, ``flops.rate_seconds``, so every FLOP
  rate and utilisation): the epochs only, by CUDA events on a GPU and ``perf_counter`` on a CPU;
  compiling, capturing, setup and curve evaluation excluded. So ``compute.total <= seconds.train
  - options.compile_seconds - curve.eval_seconds``, and the curve's last point is at
  ``compute.total``.
* **epochs energy** (``energy.epochs_joules``): the GPU energy of the same span as compute: the
  curve's energy so far at its last point (evaluation excluded) where a curve ran, else the sum
  of ``energy.by_phase`` (each phase from its start to its end; compiling and capturing happen
  before a phase starts).
* **short windows**: an energy counter steps every few to tens of milliseconds, so the energy
  of a window shorter than five counter updates (``energy.min_window_s``, probed once per
  session) or of a counter that did not move is null with its reason, never 0 J; the same for
  RAPL (``energy.cpu_min_window_s``), phases and curve points.

Every saved case carries these keys (``SCHEMA_VERSION`` names the layout). A value that could not
be measured on this machine is ``null`` and its reason is under ``unavailable`` (key: the dotted
field name), so that reports show "n/a" rather than zero.

Layout (types after the colon; ``?`` marks a nullable value, ``*`` a field added after the first
runs were saved: checked when present in "ff-bench/1" records, required in "ff-bench/2")::

    schema: str                       "ff-bench/2" (the report also reads "ff-bench/1")
    dataset: str                      canonical lower-case name, e.g. "mnist"
    method: str                       a registered method: "ff", "bp", "ff_head", ...
    recipe: object                    every recipe field (see ff_algos.methods), plus "method"
    seed: int
    device: {type: str, name: str, index: int?}
    accuracy: {train: float, test: float, floor: float?, passed: bool?,
               predictors: {name: {test: float, predict_test_seconds: float}}*}
        predictors: further predictors a method scored beside its model (e.g. FF goodness
        beside ff_head's linear head)
    study: {like_for_like: bool, differences: [str]}*
        whether the recipe is the reference study's, decided when the run was saved
    seconds: {end_to_end: float, data: float, train: float, eval: float,
              predict_train: float*, predict_test: float*}
        eval is predict_train + predict_test (predicting the training and the test split)
    compute: {timer: str, total: float, per_epoch: {phase: [float]}}
        timer is "cuda_event" or "perf_counter"; phases are "layer1", "layer2", ... for FF and
        "train" for backprop; per_epoch holds seconds per epoch of each phase
    flops: {train: int, predict: int, train_per_s: float, peak_per_s: float?, peak_dtype: str,
            utilisation: float?, executed_train: int?*, executed_train_per_s: float?*,
            peak_matmul_precision: str?*, utilisation_basis: str*, model_utilisation: float?*,
            rate_seconds: float*, executed_by_phase: {phase: int}*}
        train and train_per_s are analytic (model) FLOPs; executed_train the FLOPs training
        really executed, where counted; utilisation is FLOP/s over the measured matmul peak,
        of the executed FLOPs when counted (utilisation_basis "executed") else of the model
        FLOPs ("model"); model_utilisation is always the model FLOPs' share; peak_matmul_precision
        is torch.get_float32_matmul_precision() while the peak was measured; rates are over
        rate_seconds, the epochs' compute time (older records: the training window)
    memory: {torch_peak_bytes: {data: int?, train: int?, eval: int?, predict_train: int?*,
             predict_test: int?*}, nvml_used_peak_bytes: int?, host_peak_rss_bytes: int?}
        torch_peak_bytes.eval is the larger of the two predict windows' peaks;
        held*: {saved_for_backward_peak_bytes, parameter_bytes, optimizer_state_bytes, rows,
                cast_parameter_peak_bytes*}?
        what training holds by its own account, counted exactly on an untimed run
        (ff_algos.telemetry.held_memory); saved_for_backward_peak_bytes is activations only,
        cast_parameter_peak_bytes the saved copies of parameters (autocast's bf16 weights;
        records without it counted those among saved_for_backward_peak_bytes)
    power: {method: str?, samples: int, mean_w: float?, max_w: float?, nvml_match: str?*}
        method is "nvml_power_instant" or "nvml_power_average" (NVML's 1 s average; older runs
        say "nvml_power_usage"); nvml_match is how the NVML device was matched to torch's:
        "uuid", "pci_bus_id", "index", "index_via_cuda_visible_devices", ...
    energy: {method: str?, joules: float?, joules_per_accuracy_point: float?,
             joules_per_test_point: float?, predict_test_joules: float?*, cpu_method: str?*,
             cpu_package_joules: float?*, cpu_dram_joules: float?*}
        joules: the training window; joules_per_accuracy_point: that energy over the test accuracy
        in percentage points; predict_test_joules: the energy of predicting the test split
        (only); joules_per_test_point: that energy per test sample (records without
        predict_test_joules divided the energy of predicting both splits); cpu_*: the training
        window's CPU package and DRAM energy from RAPL counters (cpu_method "rapl");
        by_phase*: {phase: {gpu_j, cpu_package_j, cpu_dram_j}} per training phase, null where
        the counter is not readable or the phase too short for it (reasons under
        "energy.by_phase.<phase>.<counter>"; device synchronised at phase boundaries only);
        epochs_joules*: the epochs' GPU energy (above); counter_period_s*, min_window_s*,
        cpu_min_window_s*: the counters' measured update period and shortest measurable window
    precision: {precision: str, autocast_dtype: str?, matmul_allow_tf32: bool?, ...}*
        what really ran: the recipe's precision, TF32 flags, float32 matmul precision, the
        TF32 environment overrides (see ff_algos.telemetry.precision_state)
    curve: {val_rows: int, val_source: str, points_per_phase: int, eval_seconds: float,
            energy_method: str?, points: [{phase, epoch, seconds, model_flops, executed_flops,
            energy_j?, val_accuracy}], energy_reason: str?}?*
        the learning curve (ff_algos.record.Curve): validation accuracy of the network trained
        so far; seconds is training compute so far (evaluation excluded; the evaluation's host
        time, eval_seconds, is inside seconds.train and the train window's energy); energy_j
        is null while the segments between evaluations are too short for the counter
        (energy_reason)
    parallel: {strategy: str, world: int, layers_per_rank: int?, microbatches: int,
               schedule: str, backend: str, launcher: str, threads_per_rank: int, epochs: int,
               rows_per_epoch: int, epoch_seconds: float, rows_per_s: float,
               serial: [{threads, epoch_seconds, rows_per_s}], speedup: float?,
               speedup_vs_same_threads: float?, efficiency: float?,
               ranks: [{rank, host, threads, layers, train_seconds, busy_seconds?,
                        idle_seconds?, wait_seconds?, bytes_sent_per_epoch,
                        bytes_received_per_epoch, peak_memory_bytes?, memory_kind,
                        start_memory_bytes?}],
               busy_basis: str, bytes_basis: str, weights_match_serial: bool?,
               pipelined_test_accuracy: float?}*
        only in cases that ran as one multi-process world (ff_algos.record.ParallelRecord,
        built by ff_algos.parallel.section); speedups are over the same recipe trained
        serially in one process, measured in the same case
    options: {compiled: bool, ...}    implementation choices that ran (recorded, not configured);
        compile, compile_seconds (compiling/capturing, outside compute, inside seconds.train)
    unavailable: {field: reason}

Informational keys, not validated: ``recipe_name``, ``data`` (source, rows, load seconds),
``losses_final`` (last epoch's loss per phase), ``telemetry_notes`` (caveats on measured values).
"""

from __future__ import annotations

from typing import Any

from ff_algos.record import READABLE_SCHEMAS, SCHEMA_VERSION

__all__ = ["READABLE_SCHEMAS", "SCHEMA_VERSION", "lookup", "validate"]

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

# fields added after the first "ff-bench/1" runs: validated when present, so older records stay
# valid; those in _V2_REQUIRED are written by every "ff-bench/2" record
_V2_REQUIRED = (
    "seconds.predict_train",
    "seconds.predict_test",
    "flops.executed_train",
    "flops.rate_seconds",
    "flops.executed_by_phase",
    "accuracy.predictors",
    "study.like_for_like",
    "precision",
)
_OPTIONAL_FIELDS: dict[str, tuple[type, ...]] = {
    "seconds.predict_train": _NUM,
    "seconds.predict_test": _NUM,
    "flops.executed_train": (int, _N),
    "flops.executed_train_per_s": (*_NUM, _N),
    "flops.peak_matmul_precision": (str, _N),
    "flops.utilisation_basis": (str,),
    "flops.model_utilisation": (*_NUM, _N),
    "memory.torch_peak_bytes.predict_train": (int, _N),
    "memory.torch_peak_bytes.predict_test": (int, _N),
    "power.nvml_match": (str, _N),
    "energy.predict_test_joules": (*_NUM, _N),
    "energy.cpu_method": (str, _N),
    "energy.cpu_package_joules": (*_NUM, _N),
    "energy.cpu_dram_joules": (*_NUM, _N),
    "accuracy.predictors": (dict,),
    "study.like_for_like": (bool,),
    "flops.rate_seconds": _NUM,
    "flops.executed_by_phase": (dict,),
    "precision": (dict,),
    "curve": (dict, _N),
    "memory.held": (dict, _N),
    "parallel": (dict,),
    "parallel.world": (int,),
    "parallel.strategy": (str,),
    "parallel.epoch_seconds": _NUM,
    "parallel.ranks": (list,),
    "parallel.serial": (list,),
    "energy.epochs_joules": (*_NUM, _N),
    "energy.counter_period_s": (*_NUM, _N),
    "energy.min_window_s": (*_NUM, _N),
    "energy.cpu_min_window_s": (*_NUM, _N),
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
    schema = info.get("schema")
    if schema not in READABLE_SCHEMAS:
        problems.append(f"schema is {schema!r}, expected one of {', '.join(READABLE_SCHEMAS)}")
    required = set(_FIELDS) | (set(_V2_REQUIRED) if schema == SCHEMA_VERSION else set())
    present: list[str] = []
    for path, types_ in (*_FIELDS.items(), *_OPTIONAL_FIELDS.items()):
        try:
            value = lookup(info, path)
        except KeyError:
            if path in required:
                problems.append(f"missing {path}")
            continue
        present.append(path)
        # bool is an int subclass; do not let True pass as a number
        if isinstance(value, bool) and bool not in types_:
            problems.append(f"{path} is a bool, expected {_names(types_)}")
        elif not isinstance(value, types_):
            problems.append(f"{path} is {type(value).__name__}, expected {_names(types_)}")
    unavailable = info.get("unavailable", {})
    for path in present:
        if path == "schema":
            continue
        if lookup(info, path) is None and isinstance(unavailable, dict) and path not in unavailable:
            problems.append(f"{path} is null without a reason under 'unavailable'")
    return problems


def _names(types_: tuple[type, ...]) -> str:
    return " or ".join("null" if t is _N else t.__name__ for t in types_)

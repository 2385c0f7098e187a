"""The typed result record of one benchmark case.

:class:`CaseRecord` is built in one place (:func:`ff_algos.suite.case.run_case`), saved as the
``extra_info`` of a pytest-benchmark run by :meth:`CaseRecord.to_extra_info`, and read back by the
report with :meth:`CaseRecord.from_extra_info`, which also reads the older ``ff-bench/1`` layout
(fields added since are None there). :mod:`ff_algos.schema` documents the saved layout and
validates it; this module is its typed twin. A value that could not be measured is None and its
reason is in :attr:`CaseRecord.unavailable` under the field's dotted name (``"energy.joules"``).

The module is a leaf: it imports nothing from the package, so the suite, telemetry and the report
can all depend on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

SCHEMA_VERSION = "ff-bench/2"
SCALING_SCHEMA = "ff-bench-scaling/1"  # the scaling benchmark's records (ScalingPoint)
READABLE_SCHEMAS = ("ff-bench/1", "ff-bench/2")  # the report reads both

_T = TypeVar("_T")


@dataclass(frozen=True)
class DeviceRecord:
    """The device a case ran on: ``type`` ("cpu", "cuda"), a human-readable name, the index."""

    type: str
    name: str
    index: int | None = None


@dataclass(frozen=True)
class PredictorScore:
    """A further predictor a method scored beside its model (e.g. a linear head)."""

    test: float
    predict_test_seconds: float


@dataclass(frozen=True)
class AccuracyRecord:
    """Train and test accuracy of the model, the floor it was held to, further predictors."""

    train: float
    test: float
    floor: float | None = None
    passed: bool | None = None  # None: no floor for this case
    predictors: Mapping[str, PredictorScore] = field(default_factory=dict)


@dataclass(frozen=True)
class RecipeMatch:
    """How a measured recipe relates to the reference study's, decided when the run was saved."""

    like_for_like: bool
    differences: tuple[str, ...] = ()  # "field=measured (study: value)"

    def describe(self, recipe_name: str) -> str:
        """One sentence for the report."""
        if self.like_for_like:
            return (
                f"recipe '{recipe_name}' is the study's 'seed' recipe: "
                "the comparison with the study is like for like"
            )
        changed = ", ".join(self.differences)
        return (
            f"recipe '{recipe_name}' is NOT the study's 'seed' recipe on the study's data "
            f"({changed}): the comparison with the study is not like for like"
        )


@dataclass(frozen=True)
class Seconds:
    """Host-clock seconds of the case's windows (device synchronised at each edge)."""

    end_to_end: float
    data: float
    train: float
    eval: float  # predict_train + predict_test
    predict_train: float | None = None
    predict_test: float | None = None


@dataclass(frozen=True)
class Compute:
    """Device compute time of the training epochs, per phase (``layer1``..., ``train``)."""

    timer: str  # "cuda_event" or "perf_counter"
    total: float
    per_epoch: Mapping[str, tuple[float, ...]]

    def phase_total(self, phase: str) -> float | None:
        """Seconds of one phase (None when the case has no such phase)."""
        epochs = self.per_epoch.get(phase, ())
        return sum(epochs) if epochs else None

    def phase_epoch_mean(self, phase: str) -> float | None:
        """Mean seconds of one epoch of one phase (None when absent)."""
        epochs = self.per_epoch.get(phase, ())
        return sum(epochs) / len(epochs) if epochs else None

    def epoch_mean(self) -> float | None:
        """Mean seconds of one epoch over every epoch of every phase."""
        epochs = [s for times in self.per_epoch.values() for s in times]
        return sum(epochs) / len(epochs) if epochs else None


@dataclass(frozen=True)
class Flops:
    """Model and executed FLOPs, the achieved rates and their share of the measured peak."""

    train: int  # analytic (model) FLOPs of training
    predict: int  # analytic FLOPs of predicting the test split
    train_per_s: float  # train over rate_seconds
    peak_per_s: float | None
    peak_dtype: str
    utilisation: float | None  # of executed FLOPs when counted (utilisation_basis), else model
    executed_train: int | None = None
    executed_train_per_s: float | None = None
    peak_matmul_precision: str | None = None
    utilisation_basis: str | None = None  # "executed" or "model"
    model_utilisation: float | None = None
    rate_seconds: float | None = None  # the epochs' compute time (older runs: training window)
    executed_by_phase: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TorchPeaks:
    """The torch allocator's peak bytes per window (None where not measured)."""

    data: int | None = None
    train: int | None = None
    eval: int | None = None  # the larger of the two predict windows
    predict_train: int | None = None
    predict_test: int | None = None


@dataclass(frozen=True)
class HeldMemory:
    """What a training run holds, counted exactly (:mod:`ff_algos.telemetry.held_memory`):
    peak bytes of activations saved for backward (parameters and their copies aside), peak bytes
    of saved copies of parameters (autocast's low-precision weights), and the parameters and
    optimiser state of the optimiser that held the most; measured on an untimed run of ``rows``
    training rows."""

    saved_for_backward_peak_bytes: int
    parameter_bytes: int
    optimizer_state_bytes: int
    rows: int
    # None: an older record, whose saved_for_backward_peak_bytes counted these copies too
    cast_parameter_peak_bytes: int | None = None


@dataclass(frozen=True)
class Memory:
    """Peak memory: torch allocator per window, NVML device memory used, host RSS, and what
    training holds by its own account (None: not measured)."""

    torch_peak_bytes: TorchPeaks
    nvml_used_peak_bytes: int | None = None
    host_peak_rss_bytes: int | None = None
    held: HeldMemory | None = None


@dataclass(frozen=True)
class Power:
    """GPU board power over the training window (NVML)."""

    method: str | None = None  # "nvml_power_instant" or "nvml_power_average"
    samples: int = 0
    mean_w: float | None = None
    max_w: float | None = None
    nvml_match: str | None = None  # how the NVML device was matched to torch's


@dataclass(frozen=True)
class PhaseJoules:
    """Energy of one training phase per counter (None where the counter is not readable)."""

    gpu_j: float | None = None
    cpu_package_j: float | None = None
    cpu_dram_j: float | None = None
    seconds: float | None = None  # the phase's wall time, start to end (None: older records)


@dataclass(frozen=True)
class Energy:
    """Energy of the training window (GPU by NVML, CPU by RAPL) and of predicting the test split."""

    method: str | None = None
    joules: float | None = None
    joules_per_accuracy_point: float | None = None  # joules over test accuracy in points
    joules_per_test_point: float | None = None  # predict_test_joules per test sample
    predict_test_joules: float | None = None
    cpu_method: str | None = None
    cpu_package_joules: float | None = None
    cpu_dram_joules: float | None = None
    by_phase: Mapping[str, PhaseJoules] = field(default_factory=dict)
    # the counter behind ``method``: its update period and the shortest window it measures
    # (ff_algos.telemetry.resolution); None: not probed (no counter, or older records)
    counter_period_s: float | None = None
    min_window_s: float | None = None
    cpu_min_window_s: float | None = None  # the same for RAPL (cpu_*)
    # the training window's energy less what compiling/capturing and curve evaluation used, where
    # both were measured (see ff_algos.schema: "What each window holds")
    epochs_joules: float | None = None


@dataclass(frozen=True)
class DataRecord:
    """Where the data came from and how many rows trained and tested."""

    source: str | None = None
    train_rows: int | None = None
    test_rows: int | None = None
    load_seconds: float | None = None
    checked: str | None = None  # "sha256"/"md5": the published files; "unverified"; None: older


@dataclass(frozen=True)
class CurvePoint:
    """One point of a learning curve: the network trained so far, scored on the validation rows."""

    phase: str  # the training phase it ended ("layer1", "train", ...)
    epoch: int  # epochs of that phase done (1-based)
    seconds: float  # training compute so far (device time of the epochs, evaluation excluded)
    model_flops: int  # model FLOPs of the training so far (see Curve)
    executed_flops: int  # FLOPs the implementation executed so far
    energy_j: float | None  # training energy so far (Curve.energy_method), evaluation excluded
    val_accuracy: float


@dataclass(frozen=True)
class Curve:
    """Validation accuracy over a method's training budget (``points_per_phase`` points in every
    phase: every k epochs, per FF layer for greedy FF). Rows come from the training split (seeded,
    never trained on); the test split is only scored at the end. FLOPs so far count the finished
    phases whole and the open one pro rata by epochs; the model FLOPs so far are the executed ones
    scaled by the run's model/executed ratio."""

    val_rows: int
    val_source: str  # "unused training rows" or "carved from the training split"
    points_per_phase: int
    eval_seconds: float  # host time spent evaluating (outside the compute time)
    energy_method: str | None
    points: tuple[CurvePoint, ...]
    energy_reason: str | None = None  # why points' energy_j is null (windows under the counter's)


@dataclass(frozen=True)
class RankRecord:
    """One rank of a multi-process case: what it held, how long it worked and waited, what it
    sent and received, its peak memory (:mod:`ff_algos.parallel.meter`)."""

    rank: int
    host: str
    threads: int  # torch.get_num_threads() on the rank
    layers: tuple[int, ...]  # 1-based layers this rank holds (every layer under data parallelism)
    train_seconds: float  # wall time of the rank's training window (start to end barrier)
    busy_seconds: float | None  # see ParallelRecord.busy_basis
    idle_seconds: float | None  # train_seconds - busy_seconds: the measured bubble and waits
    wait_seconds: float | None  # blocked in the method's own sends and receives (where it has any)
    bytes_sent_per_epoch: int
    bytes_received_per_epoch: int
    peak_memory_bytes: int | None
    memory_kind: str  # "host_rss" (CPU ranks) or "cuda_allocator"
    start_memory_bytes: int | None = None  # host RSS when the rank started (a fork: the parent's)


@dataclass(frozen=True)
class SerialReference:
    """The same recipe trained serially in one process with ``threads`` threads."""

    threads: int
    epoch_seconds: float
    rows_per_s: float


@dataclass(frozen=True)
class ParallelRecord:
    """The ``parallel`` section of a case that ran as one multi-process world
    (:mod:`ff_algos.parallel.section` builds it)."""

    strategy: str  # "pipe" (FF layer pipeline), "ddp", "gpipe", "1f1b"
    world: int
    layers_per_rank: int | None  # None: every rank holds every layer (data parallelism)
    microbatches: int  # per minibatch (1: the minibatch is the unit)
    schedule: str  # e.g. "all layers at once", "ScheduleGPipe", "Schedule1F1B", "DDP"
    backend: str  # "gloo", "nccl", or "none" for a world of one
    launcher: str  # "elastic_launch/forkserver" (or /fork, /spawn), "in_process"
    threads_per_rank: int
    epochs: int
    rows_per_epoch: int
    epoch_seconds: float  # the world's training wall time over its epochs (fill and drain in)
    rows_per_s: float
    serial: tuple[SerialReference, ...]  # the serial runs measured beside it
    speedup: float | None  # serial with threads_per_rank threads over the world
    speedup_vs_same_threads: float | None  # serial with world x threads_per_rank threads
    efficiency: float | None  # speedup / world
    ranks: tuple[RankRecord, ...]
    busy_basis: str  # how busy_seconds was measured
    bytes_basis: str  # how the bytes were counted
    weights_match_serial: bool | None  # bit-identical to the serial run (None: not compared)
    pipelined_test_accuracy: float | None = None  # prediction run across the ranks


def parallel_from(saved: Any) -> ParallelRecord | None:
    """The typed section of a saved (JSON) ``parallel`` mapping; None when absent."""
    if not isinstance(saved, Mapping):
        return None
    return dataclasses.replace(
        _make(ParallelRecord, saved),
        serial=tuple(_make(SerialReference, s) for s in saved.get("serial", ())),
        ranks=tuple(
            dataclasses.replace(_make(RankRecord, r), layers=tuple(r.get("layers", ())))
            for r in saved.get("ranks", ())
        ),
    )


@dataclass(frozen=True)
class Measured:
    """What telemetry measured around one case (the sections it owns, see
    :func:`ff_algos.telemetry.measured_sections`)."""

    seconds: Seconds
    compute: Compute
    flops: Flops
    memory: Memory
    power: Power
    energy: Energy
    unavailable: Mapping[str, str]
    notes: Mapping[str, str]


@dataclass(frozen=True)
class CaseRecord:
    """Everything one case measured, with what ran (recipe, device, precision, options)."""

    dataset: str
    method: str
    recipe: Mapping[str, Any]  # every recipe field, plus "method"
    seed: int
    device: DeviceRecord
    accuracy: AccuracyRecord
    seconds: Seconds
    compute: Compute
    flops: Flops
    memory: Memory
    power: Power
    energy: Energy
    options: Mapping[str, Any]  # implementation choices that ran (compile, compile_seconds, ...)
    unavailable: Mapping[str, str]  # dotted field name -> why it is None
    study: RecipeMatch | None = None  # None: saved before it was recorded
    precision: Mapping[str, Any] | None = None  # TF32 flags, autocast dtype, ... (None: older)
    data: DataRecord = field(default_factory=DataRecord)
    losses_final: Mapping[str, float] = field(default_factory=dict)
    telemetry_notes: Mapping[str, str] = field(default_factory=dict)
    recipe_name: str | None = None
    curve: Curve | None = None  # None: not measured (reason under unavailable["curve"])
    parallel: ParallelRecord | None = None  # None: a single-process case
    schema: str = SCHEMA_VERSION

    @classmethod
    def build(
        cls,
        measured: Measured,
        **parts: Any,
    ) -> CaseRecord:
        """A record from telemetry's sections and the suite's parts (the other fields)."""
        return cls(
            seconds=measured.seconds,
            compute=measured.compute,
            flops=measured.flops,
            memory=measured.memory,
            power=measured.power,
            energy=measured.energy,
            telemetry_notes=measured.notes,
            **parts,
        )

    @property
    def name_of_recipe(self) -> str:
        """The recipe's name (``"seed"``, ``"quick"``, ...)."""
        return str(self.recipe.get("name", self.recipe_name or "?"))

    def reason(self, dotted: str) -> str | None:
        """Why the field at ``dotted`` could not be measured, as the case recorded it."""
        return self.unavailable.get(dotted)

    def to_extra_info(self) -> dict[str, Any]:
        """The JSON form saved in ``extra_info`` (tuples become lists; see ff_algos.schema)."""
        out: dict[str, Any] = _plain(dataclasses.asdict(self))
        if self.study is None:
            del out["study"]
        if self.precision is None:
            del out["precision"]
        if self.parallel is None:
            del out["parallel"]
        return out

    @classmethod
    def from_extra_info(cls, info: Mapping[str, Any]) -> CaseRecord:
        """The record of a saved ``extra_info`` of any readable schema (see ff_algos.schema;
        validate it first: this raises ``KeyError``/``TypeError`` on malformed input)."""
        acc = info["accuracy"]
        study = info.get("study")
        memory = info["memory"]
        compute = info["compute"]
        return cls(
            schema=str(info["schema"]),
            dataset=str(info["dataset"]),
            method=str(info["method"]),
            recipe=dict(info["recipe"]),
            recipe_name=info.get("recipe_name"),
            seed=int(info["seed"]),
            device=_make(DeviceRecord, info["device"]),
            accuracy=AccuracyRecord(
                train=acc["train"],
                test=acc["test"],
                floor=acc.get("floor"),
                passed=acc.get("passed"),
                predictors={
                    k: _make(PredictorScore, v) for k, v in acc.get("predictors", {}).items()
                },
            ),
            study=RecipeMatch(study["like_for_like"], tuple(study.get("differences", ())))
            if isinstance(study, Mapping) and isinstance(study.get("like_for_like"), bool)
            else None,
            seconds=_make(Seconds, info["seconds"]),
            compute=Compute(
                timer=compute["timer"],
                total=compute["total"],
                per_epoch={k: tuple(v) for k, v in compute["per_epoch"].items()},
            ),
            flops=_make(Flops, info["flops"]),
            memory=Memory(
                torch_peak_bytes=_make(TorchPeaks, memory["torch_peak_bytes"]),
                nvml_used_peak_bytes=memory.get("nvml_used_peak_bytes"),
                host_peak_rss_bytes=memory.get("host_peak_rss_bytes"),
                held=_make(HeldMemory, memory["held"])
                if isinstance(memory.get("held"), Mapping)
                else None,
            ),
            power=_make(Power, info["power"]),
            energy=dataclasses.replace(
                _make(Energy, info["energy"]),
                by_phase={
                    k: _make(PhaseJoules, v) for k, v in info["energy"].get("by_phase", {}).items()
                },
            ),
            precision=info.get("precision"),
            data=_make(DataRecord, info.get("data", {})),
            losses_final=dict(info.get("losses_final", {})),
            options=dict(info["options"]),
            unavailable={str(k): str(v) for k, v in info["unavailable"].items()},
            telemetry_notes=dict(info.get("telemetry_notes", {})),
            curve=_curve(info.get("curve")),
            parallel=parallel_from(info.get("parallel")),
        )


@dataclass(frozen=True)
class ScalingPoint:
    """One configuration of the depth/batch scaling benchmark
    (:mod:`ff_algos.suite.depth_scaling`)."""

    algorithm: str  # "ff" or "bp"
    depth: int
    width: int
    batch: int
    steps: int  # steps in the timed epoch
    epoch_seconds: float
    timer: str
    saved_for_backward_peak_bytes: int
    parameter_bytes: int
    optimizer_state_bytes: int
    # torch's CUDA allocator peak of the timed epoch above what was allocated as it started
    # (inputs, network, Adam state; gc.collect() and reset_peak_memory_stats first): the epoch's
    # own working memory (allocator_peak_basis "above_start"; older records: "absolute")
    allocator_peak_bytes: int | None
    device: str
    schema: str = SCALING_SCHEMA
    allocator_peak_basis: str = "absolute"

    def to_extra_info(self) -> dict[str, Any]:
        """The JSON form saved in ``extra_info``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_extra_info(cls, info: Mapping[str, Any]) -> ScalingPoint:
        """The point of a saved ``extra_info`` (``KeyError``/``TypeError`` when malformed)."""
        has_default = {"schema", "allocator_peak_basis"}
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{n: info[n] for n in names if n in info or n not in has_default})


def _curve(saved: Any) -> Curve | None:
    if not isinstance(saved, Mapping):
        return None
    points = tuple(_make(CurvePoint, p) for p in saved.get("points", ()))
    return dataclasses.replace(_make(Curve, saved), points=points)


def _make(cls: type[_T], values: Mapping[str, Any]) -> _T:
    """``cls`` from the keys of ``values`` it has (keys it lacks keep their defaults; unknown
    keys, e.g. from a newer writer, are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in values.items() if k in names})


def _plain(value: Any) -> Any:
    """JSON-ready: tuples to lists, mappings to dicts, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value

"""Telemetry for ff-bench: time, memory, power, energy and FLOP/s of a benchmark case.

Reusable measurement code with no pytest dependency; the benchmark suite composes it. Importing
it probes nothing: CUDA is queried and NVML (``pynvml``) imported and initialised only when a
measurement needs them. Anything that cannot be measured here (no GPU, no NVML, no /proc) is
None with a one-line reason under ``unavailable``; nothing raises for a missing facility.

Use::

    session = TelemetrySession("cuda")            # one per process; owns NVML and the peak cache
    ...untimed warm-up...
    release_cached_memory(session.device)         # the warm-up's cached blocks go back first
    with session.window("end_to_end") as e2e:     # windows may nest; each syncs at both ends
        with session.window("data") as data:
            ...load...
        clock = session.epoch_clock()             # a TrainObserver: pass it to the training loop
        with session.window("train") as train:
            ...fit(observer=clock)...
        with session.window("predict_train") as p_train:
            ...predict the training split...
        with session.window("predict_test") as p_test:
            ...predict the test split...
    times = clock.result()                        # EpochTimes: {phase: [s per epoch]}, total
    peak = session.peak_flops(torch.float32)      # PeakResult, measured once per (device, dtype)
    measured = measured_sections(
        {"data": data.result, "train": train.result, "predict_train": p_train.result,
         "predict_test": p_test.result, "end_to_end": e2e.result},
        times, recipe.flops(n_train, 784, 10), n_test, peak, test_accuracy=acc,
        executed_train_flops=None,                # or the FLOPs training really executed
    )                                             # ff_algos.record.Measured
    precision = precision_state(session.device)   # TF32 / matmul precision in force
    session.close()

What a window measures (:class:`WindowResult`): wall seconds with the device synchronised at
both ends; the torch CUDA allocator peak (reset when the window opens); the host peak RSS
(``VmHWM``, reset through ``/proc/self/clear_refs`` where permitted, else ``getrusage``); NVML
device memory used (sampled peak), power (mean, max, sample count, from a background thread at
``TelemetryConfig.sample_hz``, 20 Hz by default; instantaneous where NVML offers it, else its
1 s average: ``power_method`` says which) and energy: the delta of NVML's total-energy counter
where the GPU has one, else the trapezoid integral of the sampled power (``energy_method`` says
which); how the NVML device was matched to torch's (``nvml_match``); and the CPU package and
DRAM energy from the RAPL counters in ``TelemetryConfig.rapl_root`` where readable.

Per-epoch compute (:class:`EpochClock`): CUDA events recorded at each phase start and epoch end,
read once after a sync ("cuda_event"); ``time.perf_counter`` on synchronous devices
("perf_counter").

Peak FLOP/s (:func:`measure_peak_flops`): the best rate of square matmuls of the same dtype on
the same device, after warm-up, synchronised; never a datasheet number.

Machine facts for pytest-benchmark: :func:`machine_info` (pass ``device=`` to describe the
device the cases run on; ``git=`` a :func:`git_state` read when the session started).
Float32 matmul precision in force (TF32): :func:`precision_state`.

Modules: ``config`` (TelemetryConfig, TelemetryError), ``sync``, ``nvml`` (lazy NVML access),
``sampler`` (power/memory thread), ``energy``, ``rapl`` (CPU energy counters), ``host_memory``,
``torch_memory`` (allocator peak, releasing cached memory), ``peaks`` (nested-window peaks),
``window``, ``epoch_clock``, ``peak_flops``, ``flops``, ``precision``, ``gpu_probe``,
``machine``, ``session``, ``measured`` (the measured sections of :mod:`ff_algos.record`),
``units`` (numbers as text with units, "n/a" for missing values; used by the suite's table and
the reports).
"""

from ff_algos.telemetry.config import TelemetryConfig, TelemetryError
from ff_algos.telemetry.energy import COUNTER, INTEGRAL, counter_joules, trapezoid_joules
from ff_algos.telemetry.epoch_clock import CUDA_EVENT, PERF_COUNTER, EpochClock, EpochTimes
from ff_algos.telemetry.flops import FlopRate, flop_rate
from ff_algos.telemetry.gpu_probe import GpuInventory, probe_gpus
from ff_algos.telemetry.machine import MACHINE_KEYS, GitState, git_state, machine_info
from ff_algos.telemetry.matmul_precision import precision_state
from ff_algos.telemetry.measured import WINDOWS, measured_sections
from ff_algos.telemetry.nvml import POWER_AVERAGE, POWER_INSTANT
from ff_algos.telemetry.peak_flops import PeakResult, measure_peak_flops
from ff_algos.telemetry.rapl import RAPL, Rapl, open_rapl
from ff_algos.telemetry.sampler import PowerSampler, PowerTrace
from ff_algos.telemetry.session import TelemetrySession
from ff_algos.telemetry.sync import synchronize
from ff_algos.telemetry.torch_memory import release_cached_memory
from ff_algos.telemetry.window import Window, WindowResult

__all__ = [
    "COUNTER",
    "CUDA_EVENT",
    "INTEGRAL",
    "MACHINE_KEYS",
    "PERF_COUNTER",
    "POWER_AVERAGE",
    "POWER_INSTANT",
    "RAPL",
    "WINDOWS",
    "EpochClock",
    "EpochTimes",
    "FlopRate",
    "GitState",
    "GpuInventory",
    "PeakResult",
    "PowerSampler",
    "PowerTrace",
    "Rapl",
    "TelemetryConfig",
    "TelemetryError",
    "TelemetrySession",
    "Window",
    "WindowResult",
    "counter_joules",
    "flop_rate",
    "git_state",
    "machine_info",
    "measure_peak_flops",
    "measured_sections",
    "open_rapl",
    "precision_state",
    "probe_gpus",
    "release_cached_memory",
    "synchronize",
    "trapezoid_joules",
]

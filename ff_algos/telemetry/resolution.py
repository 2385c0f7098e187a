"""How finely an energy counter resolves time, and which windows it can measure.

NVML's total-energy counter and the CPU's RAPL counters do not count continuously: they step,
every few milliseconds (RAPL) to tens of milliseconds (NVML on recent GPUs). A window shorter than
an update period reads 0 J or one whole step, so its energy (and any power derived from it) is an
artefact. :func:`measure_step` reads a counter in a tight loop for a fraction of a second and
returns its update period (the median time between changes) and its smallest nonzero increment;
:func:`unreliable` then says why a window's energy must be null: shorter than
:data:`UPDATES_PER_WINDOW` update periods, or a counter that did not move at all. The same rule
holds for the trapezoid integral of sampled power, with the sampling period in place of the
counter's (:func:`sampled_step`).

The suite measures each counter once per session, before any case is timed
(:meth:`~ff_algos.telemetry.session.TelemetrySession.counter_steps`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

UPDATES_PER_WINDOW = 5  # a window needs this many counter updates for its energy to count
PROBE_SECONDS = 0.5  # how long measure_step reads the counter


@dataclass(frozen=True)
class CounterStep:
    """An energy counter's time resolution, as measured (or, for sampled power, as configured)."""

    counter: str  # "nvml_energy_counter", "rapl" or "nvml_power_integral"
    period_s: float  # median seconds between updates (a lower bound when ``updates`` < 2)
    step_j: float | None  # smallest nonzero increment seen (None: it never moved)
    updates: int  # changes seen while probing
    probe_s: float  # how long it was probed (0 for a configured sampling period)

    @property
    def min_window_s(self) -> float:
        """The shortest window whose energy this counter measures: UPDATES_PER_WINDOW periods."""
        return UPDATES_PER_WINDOW * self.period_s

    def describe(self) -> str:
        """One line for the record's notes."""
        step = "never moved" if self.step_j is None else f"smallest step {self.step_j:.6g} J"
        return (
            f"{self.counter} updates every {self.period_s * 1e3:.3g} ms ({step}, {self.updates} "
            f"updates in {self.probe_s:.2f} s); energies of windows under "
            f"{self.min_window_s * 1e3:.3g} ms are null"
        )


def measure_step(
    counter: str,
    read_j: Callable[[], float],
    *,
    seconds: float = PROBE_SECONDS,
    clock: Callable[[], float] = time.perf_counter,
) -> CounterStep:
    """Read ``read_j`` (the counter in joules) in a tight loop for ``seconds`` and measure how
    often it changes and by how little. A counter that changed fewer than twice is given the
    probe's whole length as its period (it updates at most that often)."""
    start = clock()
    last, last_change = read_j(), start
    changes: list[float] = []  # times between changes
    steps: list[float] = []
    first_change: float | None = None
    now = start
    while now - start < seconds:
        value = read_j()
        now = clock()
        if value != last:
            if value > last:
                steps.append(value - last)
            if first_change is not None:
                changes.append(now - last_change)
            else:
                first_change = now  # the interval before it is cut by the probe's start
            last, last_change = value, now
    probe = now - start
    period = statistics.median(changes) if changes else probe
    return CounterStep(counter, period, min(steps) if steps else None, len(steps), probe)


def sampled_step(counter: str, sample_hz: float) -> CounterStep:
    """The resolution of integrated sampled power: one sample period per update."""
    return CounterStep(counter, 1.0 / sample_hz, None, 0, 0.0)


def unreliable(joules: float, seconds: float, step: CounterStep | None) -> str | None:
    """Why the energy ``joules`` of a window of ``seconds`` is not to be trusted (None: it is)."""
    if step is not None and seconds < step.min_window_s:
        return (
            f"the window ({seconds * 1e3:.3g} ms) is shorter than {UPDATES_PER_WINDOW} updates of "
            f"{step.counter} ({UPDATES_PER_WINDOW} x {step.period_s * 1e3:.3g} ms): its energy "
            "would be 0 J or one whole step"
        )
    if joules <= 0:
        return f"{step.counter if step else 'the energy counter'} did not move in the window"
    return None

"""A background thread that samples power and device memory at a fixed rate.

The sampler only calls the reader functions it is given (NVML queries in practice); it never
touches the device, so it cannot synchronise it or slow queued work. A reader that raises is
counted and its first error kept; sampling goes on. :meth:`PowerSampler.stop` always joins the
thread (with a timeout, reported if hit), and the context-manager form stops it on exceptions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from ff_algos.data.files import describe
from ff_algos.telemetry.config import TelemetryError

THREAD_NAME = "ff-bench-telemetry-sampler"


@dataclass(frozen=True)
class PowerTrace:
    """What one sampler run saw.

    ``times_s`` are ``time.perf_counter`` stamps of the power samples in ``power_w``; memory
    samples (``used_bytes``) are kept without stamps since only their peak is used.
    """

    times_s: tuple[float, ...]
    power_w: tuple[float, ...]
    used_bytes: tuple[int, ...]
    errors: int
    first_error: str | None
    joined: bool


class PowerSampler:
    """Samples ``read_power_w`` and ``read_used_bytes`` every ``1/hz`` seconds on a thread.

    The first sample is taken as the thread starts and a last one when it is told to stop, so
    the samples bracket the measured window.
    """

    def __init__(
        self,
        read_power_w: Callable[[], float] | None,
        read_used_bytes: Callable[[], int] | None,
        *,
        hz: float,
        clock: Callable[[], float] = time.perf_counter,
        join_timeout_s: float = 5.0,
    ) -> None:
        if hz <= 0:
            raise TelemetryError(f"sampler rate hz={hz} must be positive")
        self._read_power_w = read_power_w
        self._read_used_bytes = read_used_bytes
        self._interval = 1.0 / hz
        self._clock = clock
        self._join_timeout_s = join_timeout_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._times: list[float] = []
        self._power: list[float] = []
        self._used: list[int] = []
        self._errors = 0
        self._first_error: str | None = None
        self._thread: threading.Thread | None = None
        self._trace: PowerTrace | None = None

    def start(self) -> None:
        """Start the sampling thread (once)."""
        if self._thread is not None:
            raise TelemetryError("this PowerSampler was already started; create a new one")
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> PowerTrace:
        """Stop and join the thread and return the trace; later calls return the same trace."""
        if self._trace is not None:
            return self._trace
        joined = True
        if self._thread is not None:
            self._stop.set()
            self._thread.join(self._join_timeout_s)
            joined = not self._thread.is_alive()
        with self._lock:
            self._trace = PowerTrace(
                times_s=tuple(self._times),
                power_w=tuple(self._power),
                used_bytes=tuple(self._used),
                errors=self._errors,
                first_error=self._first_error,
                joined=joined,
            )
        return self._trace

    def __enter__(self) -> PowerSampler:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        due = self._clock()
        while True:
            self._sample()
            due += self._interval
            delay = due - self._clock()
            if delay < 0:  # fell behind (a slow read or a busy host): skip, do not burst
                due = self._clock()
                delay = 0.0
            if self._stop.wait(delay):
                break
        self._sample()

    def _sample(self) -> None:
        if self._read_power_w is not None:
            before = self._clock()
            try:
                watts = self._read_power_w()
            except Exception as e:
                self._record_error(e)
            else:
                stamp = (before + self._clock()) / 2
                with self._lock:
                    self._times.append(stamp)
                    self._power.append(watts)
        if self._read_used_bytes is not None:
            try:
                used = self._read_used_bytes()
            except Exception as e:
                self._record_error(e)
            else:
                with self._lock:
                    self._used.append(used)

    def _record_error(self, error: Exception) -> None:
        with self._lock:
            self._errors += 1
            if self._first_error is None:
                self._first_error = describe(error)

"""What one rank measures about itself: the wall time of its training window, how much of it
the rank was busy (the rest is the bubble and the waits), the bytes it sent and received, and its
peak memory (host RSS on a CPU, the torch allocator's peak on a GPU).

Busy time on a CPU is the main thread's CPU time (``time.thread_time``): a rank blocked in a
receive or an all-reduce sleeps and accrues none. On CUDA the host thread runs ahead of the
device, so busy is the wall time less the measured waits, where the method's own sends and
receives measure them, and unknown otherwise.
"""

from __future__ import annotations

import resource
import socket
import sys
import time
from pathlib import Path
from typing import Any

import torch

CPU_BUSY = "main thread CPU time (time.thread_time) over the training window"
CUDA_BUSY = "training wall time less the measured waits in sends and receives"


class RankMeter:
    """Counters of one rank; :meth:`start` and :meth:`stop` bracket its training window."""

    def __init__(self, rank: int, device: torch.device) -> None:
        self.rank = rank
        self.device = device
        self.bytes_sent = 0
        self.bytes_received = 0
        self.wait_seconds = 0.0
        self.waits_measured = False  # True once the method's own links timed a wait
        self._t0 = self._cpu0 = 0.0
        self._window: tuple[float, float, int, int, float] | None = None
        self.start_memory = _resident_bytes() if device.type == "cpu" else None

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def start(self) -> None:
        """Open the training window (resets the counters)."""
        self._sync()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.bytes_sent = self.bytes_received = 0
        self.wait_seconds = 0.0
        self._t0, self._cpu0 = time.perf_counter(), time.thread_time()

    def stop(self) -> None:
        """Close the training window; later traffic (prediction) is not counted in it."""
        self._sync()
        wall = time.perf_counter() - self._t0
        cpu = time.thread_time() - self._cpu0
        self._window = (wall, cpu, self.bytes_sent, self.bytes_received, self.wait_seconds)

    def count(self, sent: int = 0, received: int = 0, waited: float = 0.0) -> None:
        """Add traffic and blocked time measured by the caller."""
        self.bytes_sent += sent
        self.bytes_received += received
        self.wait_seconds += waited
        self.waits_measured = True

    def peak_memory(self) -> tuple[int | None, str]:
        """Peak bytes and what they count."""
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device)), "cuda_allocator"
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return int(rss if sys.platform == "darwin" else rss * 1024), "host_rss"

    def report(
        self,
        layers: tuple[int, ...],
        epochs: int,
        payload_bytes: tuple[int, int] | None = None,
    ) -> dict[str, Any]:
        """The rank's :class:`~ff_algos.record.RankRecord` fields (``payload_bytes``: bytes sent
        and received in the whole window when the caller counts them from shapes)."""
        if self._window is None:
            raise RuntimeError("RankMeter.report before stop()")
        wall, cpu, sent, received, waited = self._window
        if payload_bytes is not None:
            sent, received = payload_bytes
        if self.device.type == "cuda":
            busy = wall - waited if self.waits_measured else None
        else:
            busy = min(cpu, wall)
        peak, kind = self.peak_memory()
        return {
            "rank": self.rank,
            "host": socket.gethostname(),
            "threads": torch.get_num_threads(),
            "layers": list(layers),
            "train_seconds": wall,
            "busy_seconds": busy,
            "idle_seconds": None if busy is None else max(0.0, wall - busy),
            "wait_seconds": waited if self.waits_measured else None,
            "bytes_sent_per_epoch": sent // max(1, epochs),
            "bytes_received_per_epoch": received // max(1, epochs),
            "peak_memory_bytes": peak,
            "memory_kind": kind,
            "start_memory_bytes": self.start_memory,
        }


def _resident_bytes() -> int | None:
    """This process's resident set now (Linux ``/proc/self/statm``; None elsewhere). A forked
    rank starts with its parent's pages resident; its peak less this is what it added."""
    try:
        resident = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident * resource.getpagesize()

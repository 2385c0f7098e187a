"""Point-to-point messages between neighbouring ranks that count their bytes and time their
waits into the rank's :class:`~ff_algos.parallel.meter.RankMeter`.

A message is a list of tensors of shapes both sides know. Sends are asynchronous (``isend``):
a sender runs ahead of its receiver by up to ``depth`` messages (the tensors stay referenced
until their send completes), so an upstream rank is not held back by a downstream one's step.
Receives block; the time blocked is the rank's wait.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import Tensor

from ff_algos.parallel.meter import RankMeter


class Links:
    """Sends and receives of one rank."""

    def __init__(self, meter: RankMeter, depth: int = 4) -> None:
        self.meter = meter
        self.depth = max(1, depth)
        self._pending: deque[tuple[list[Tensor], list[dist.Work]]] = deque()

    def send(self, tensors: Sequence[Tensor], dst: int) -> None:
        """Start sending ``tensors`` to rank ``dst`` (made contiguous; kept alive until sent)."""
        while len(self._pending) >= self.depth:
            self._wait_oldest()
        held = [t.contiguous() for t in tensors]
        works: list[dist.Work] = []
        for t in held:
            work = dist.isend(t, dst)
            if work is not None:
                works.append(work)
        self._pending.append((held, works))
        self.meter.count(sent=sum(t.numel() * t.element_size() for t in held))

    def recv(self, shapes: Sequence[tuple[tuple[int, ...], torch.dtype]], src: int) -> list[Tensor]:
        """Receive one message of tensors with ``shapes`` (shape, dtype) from rank ``src``."""
        out = [torch.empty(shape, dtype=dtype, device=self.meter.device) for shape, dtype in shapes]
        t0 = time.perf_counter()
        for t in out:
            dist.recv(t, src)
        self.meter.count(
            received=sum(t.numel() * t.element_size() for t in out),
            waited=time.perf_counter() - t0,
        )
        return out

    def _wait_oldest(self) -> None:
        _, works = self._pending.popleft()
        t0 = time.perf_counter()
        for work in works:
            work.wait()
        self.meter.count(waited=time.perf_counter() - t0)

    def flush(self) -> None:
        """Wait for every send still in flight."""
        while self._pending:
            self._wait_oldest()

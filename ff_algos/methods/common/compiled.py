"""How a training epoch is executed: eagerly, through ``torch.compile``, or replayed from a
captured CUDA graph (``compile=none|inductor|cudagraphs``).

Every method writes its epoch as a plain function ``epoch(perm) -> mean loss`` (``perm``: this
epoch's row order on the device, or None for one full batch). :class:`EpochRunner` then

* ``none``: calls it;
* ``inductor``: calls it too, the method having wrapped its step in ``torch.compile``; one epoch
  is run before training so that every batch shape is compiled up front;
* ``cudagraphs``: captures one whole epoch (every step, optimiser included) into a CUDA graph
  reading the row order from a static buffer, and replays it once per epoch: one launch per
  epoch instead of tens per step. Optimisers must be built with ``capturable=True``.

The warm-up that compiles or captures changes the weights and optimiser state, so both are
restored afterwards (parameters copied back in place, Adam's moments and step count zeroed,
which is a fresh Adam): the measured run trains exactly as an eager one would. The warm-up's time
is returned by :meth:`EpochRunner.prepare` and recorded as compile time, outside the per-epoch
compute clock but inside the training window and the end-to-end time.

Capturing warms up on a side stream. One side stream per device serves every capture of the
process (:func:`side_stream`, made on first use): a new stream per capture makes the caching
allocator keep a fresh pool of blocks for each, and the memory of later cases creeps up. Every
CUDA call names the runner's device (the capture runs with it current), so ``cuda:N`` works
whatever the current device is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from ff_algos.errors import CompileError

Compile = Literal["none", "inductor", "cudagraphs"]
COMPILE_MODES: tuple[Compile, ...] = ("none", "inductor", "cudagraphs")
Epoch = Callable[[Tensor | None], Tensor]


def check_compile(mode: str, device: torch.device) -> None:
    """Raise :class:`CompileError` for a mode unknown or unusable on ``device``."""
    if mode not in COMPILE_MODES:
        raise CompileError(f"compile={mode!r} is unknown; choose one of {', '.join(COMPILE_MODES)}")
    if mode == "cudagraphs" and device.type != "cuda":
        raise CompileError(
            f"compile=cudagraphs needs a CUDA device, not {device.type}; "
            "use compile=inductor or none"
        )


def load_compiler() -> None:
    """Pay ``torch.compile``'s one-off cost (importing Dynamo and Inductor, seconds on the first
    call in a process) without compiling anything, so that a method's compile time
    (:meth:`EpochRunner.prepare`) is its own compilation; the suite calls it in the untimed
    warm-up of every ``compile=inductor`` case."""
    torch.compile(_identity, dynamic=False)


def _identity(x: Tensor) -> Tensor:
    return x


_SIDE_STREAMS: dict[torch.device, torch.cuda.Stream] = {}


def side_stream(device: torch.device) -> torch.cuda.Stream:
    """The one side stream of CUDA ``device`` that captures warm up and record on (made on
    first use; a bare ``cuda`` is the current device)."""
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    if device not in _SIDE_STREAMS:
        _SIDE_STREAMS[device] = torch.cuda.Stream(device)  # type: ignore[no-untyped-call]
    return _SIDE_STREAMS[device]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class EpochRunner:
    """Runs a method's epoch function in the chosen compile mode (see the module docstring)."""

    def __init__(
        self,
        epoch: Epoch,
        mode: str,
        params: Sequence[Tensor],
        optimizers: Sequence[torch.optim.Optimizer],
        device: torch.device,
    ) -> None:
        check_compile(mode, device)
        self._epoch = epoch
        self.mode = mode
        self._params = list(params)
        self._optimizers = list(optimizers)
        self._device = device
        self._graph: torch.cuda.CUDAGraph | None = None
        self._static_perm: Tensor | None = None
        self._static_loss: Tensor | None = None

    def prepare(self, warm_perm: Tensor | None) -> float:
        """Compile or capture (no-op for ``none``); returns the seconds it took, synced.

        ``warm_perm`` is a row order of the real epoch's length (e.g. ``arange``), or None for a
        full-batch epoch; it is the static buffer a captured graph reads each epoch's order from.
        """
        if self.mode == "none":
            return 0.0
        _sync(self._device)
        started = time.perf_counter()
        saved = [p.detach().clone() for p in self._params]
        if self.mode == "inductor":
            self._epoch(warm_perm)
        else:
            self._capture(warm_perm)
        with torch.no_grad():
            for param, value in zip(self._params, saved, strict=True):
                param.copy_(value)
            for opt in self._optimizers:
                for state in opt.state.values():
                    for tensor in state.values():
                        if isinstance(tensor, Tensor):
                            tensor.zero_()
        _sync(self._device)
        return time.perf_counter() - started

    def _capture(self, warm_perm: Tensor | None) -> None:
        self._static_perm = warm_perm
        with torch.cuda.device(self._device):
            side = side_stream(self._device)
            main = torch.cuda.current_stream(self._device)
            side.wait_stream(main)
            with torch.cuda.stream(side):
                for _ in range(2):  # allocator and optimiser state settle before capture
                    self._epoch(warm_perm)
            main.wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            # named: torch's default capture stream is made once, on whichever device was
            # current the first time, and would capture cuda:1's work on cuda:0
            with torch.cuda.graph(graph, stream=side):
                self._static_loss = self._epoch(warm_perm)
            main.wait_stream(side)
        self._graph = graph

    def __call__(self, perm: Tensor | None) -> Tensor:
        """Run one epoch in row order ``perm``; returns its mean loss (0-d, on the device)."""
        if self._graph is None:
            return self._epoch(perm)
        if perm is not None:
            assert self._static_perm is not None, "captured a full-batch epoch; pass perm=None"
            self._static_perm.copy_(perm)
        self._graph.replay()
        assert self._static_loss is not None
        return self._static_loss

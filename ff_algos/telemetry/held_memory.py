"""Memory a training method holds, counted exactly and independently of the device.

:class:`HeldMemoryMeter` is a context manager around a training run:

* **saved for backward**: every tensor autograd saves for a backward pass goes through
  ``torch.autograd.graph.saved_tensors_hooks``; the meter keeps the bytes of the storages alive
  at once (a storage saved twice counts once; it is released when autograd drops it) and their
  peak. Parameters are left out (they are held anyway and counted below), so this is the
  activations a method keeps for its backward pass. Code that computes gradients by hand
  (FF's fast path) saves nothing here; its working buffers show in the allocator peak instead.
* **parameters and optimiser state**: after every optimiser step (a global
  ``register_optimizer_step_post_hook``) the bytes of that optimiser's parameters and of its
  state tensors (Adam's moments); the peak of their sum over the run.

The hooks run Python on every saved tensor and every step, so measure an untimed run.
"""

from __future__ import annotations

import weakref
from types import TracebackType
from typing import Any

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils.hooks import RemovableHandle

from ff_algos.record import HeldMemory


class _Saved:
    """What the hook returns for a saved tensor; its death releases the storage's count."""

    __slots__ = ("__weakref__", "tensor")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


def _storage_key(t: torch.Tensor) -> tuple[str, int]:
    return (str(t.device), t.untyped_storage().data_ptr())


class HeldMemoryMeter:
    """Counts saved-for-backward bytes and optimiser memory while active (module doc)."""

    def __init__(self) -> None:
        self._live: dict[tuple[str, int], list[int]] = {}  # storage -> [bytes, references]
        self._bytes = 0
        self.saved_peak = 0
        self.parameter_bytes = 0
        self.state_bytes = 0
        self._hooks: Any = None
        self._step_hook: RemovableHandle | None = None

    def _pack(self, t: torch.Tensor) -> Any:
        base = t._base if t._base is not None else t
        if base.is_leaf and base.requires_grad:  # a parameter or a view of one (W.t())
            return t
        key = _storage_key(t)
        entry = self._live.get(key)
        if entry is None:
            entry = self._live[key] = [t.untyped_storage().nbytes(), 0]
            self._bytes += entry[0]
            self.saved_peak = max(self.saved_peak, self._bytes)
        entry[1] += 1
        holder = _Saved(t)
        weakref.finalize(holder, self._release, key)
        return holder

    def _release(self, key: tuple[str, int]) -> None:
        entry = self._live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self._bytes -= entry[0]
            del self._live[key]

    @staticmethod
    def _unpack(packed: Any) -> torch.Tensor:
        return packed.tensor if isinstance(packed, _Saved) else packed

    def _after_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        params = {id(p): p for g in optimizer.param_groups for p in g["params"]}
        param_bytes = sum(p.nbytes for p in params.values())
        state_bytes = sum(
            v.nbytes
            for state in optimizer.state.values()
            for v in state.values()
            if isinstance(v, torch.Tensor)
        )
        if param_bytes + state_bytes > self.parameter_bytes + self.state_bytes:
            self.parameter_bytes, self.state_bytes = param_bytes, state_bytes

    def __enter__(self) -> HeldMemoryMeter:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        self._step_hook = register_optimizer_step_post_hook(self._after_step)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._hooks.__exit__(exc_type, exc, tb)
        if self._step_hook is not None:
            self._step_hook.remove()

    def result(self, rows: int) -> HeldMemory:
        """The peaks measured, for a run on ``rows`` training rows."""
        return HeldMemory(self.saved_peak, self.parameter_bytes, self.state_bytes, rows)

"""Memory a training method holds, counted exactly and independently of the device.

:class:`HeldMemoryMeter` is a context manager around a training run:

* **saved for backward**: every tensor autograd saves for a backward pass goes through
  ``torch.autograd.graph.saved_tensors_hooks``; the meter keeps the bytes of the storages alive
  at once (a storage saved twice counts once; it is released when autograd drops it) and their
  peak, in one of three kinds:

  - a parameter, or a view of one (``W.t()``): not counted here (held anyway, counted below);
  - a copy of a parameter (autocast's bf16 cast of a weight, or a view of that cast): its own
    peak, ``cast_parameter_peak_bytes``;
  - anything else: the activations a method keeps for its backward pass,
    ``saved_for_backward_peak_bytes``.

  Code that computes gradients by hand (FF's fast path) saves nothing here; its working buffers
  show in the allocator peak instead.
* **parameters and optimiser state**: after every optimiser step (a global
  ``register_optimizer_step_post_hook``) the bytes of that optimiser's parameters and of its
  state tensors (Adam's moments); the peak of their sum over the run.

The hooks run Python on every saved tensor and every step, so measure an untimed run.
"""

from __future__ import annotations

import re
import weakref
from types import TracebackType
from typing import Any

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils.hooks import RemovableHandle

from ff_algos.record import HeldMemory

# Backward nodes of ops whose output is a view of their input (the "Backward<n>" suffix
# stripped): a chain of these and casts from a parameter is still that parameter's data.
_VIEW_OPS = frozenset(
    {
        "Alias",
        "AsStrided",
        "Diagonal",
        "Expand",
        "Permute",
        "ReshapeAlias",
        "Select",
        "Slice",
        "Split",
        "SplitWithSizes",
        "Squeeze",
        "T",
        "Transpose",
        "Unbind",
        "Unfold",
        "Unsqueeze",
        "View",
    }
)
_CAST_OP = "ToCopy"  # .to(dtype/device), as autocast casts a weight


class _Saved:
    """What the hook returns for a saved tensor; its death releases the storage's count."""

    __slots__ = ("__weakref__", "tensor")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


class _Tally:
    """Bytes of the storages of one kind alive at once (each storage once) and their peak."""

    def __init__(self) -> None:
        self._live: dict[tuple[str, int], list[int]] = {}  # storage -> [bytes, references]
        self.bytes = 0
        self.peak = 0

    def hold(self, t: torch.Tensor) -> tuple[str, int]:
        """Count ``t``'s storage (once however often it is saved); the key to release it by."""
        key = (str(t.device), t.untyped_storage().data_ptr())
        entry = self._live.get(key)
        if entry is None:
            entry = self._live[key] = [t.untyped_storage().nbytes(), 0]
            self.bytes += entry[0]
            self.peak = max(self.peak, self.bytes)
        entry[1] += 1
        return key

    def release(self, key: tuple[str, int]) -> None:
        """Drop one reference to a storage; its bytes go when the last one does."""
        entry = self._live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.bytes -= entry[0]
            del self._live[key]


def _is_parameter(t: torch.Tensor) -> bool:
    """A parameter (a leaf that requires grad) or a view of one (``W.t()``)."""
    base = t._base if t._base is not None else t
    return base.is_leaf and base.requires_grad


def _op(node: Any) -> str:
    """The op a backward node differentiates: ``"ToCopy"`` for ``ToCopyBackward0``."""
    return re.sub(r"Backward\d*$", "", node.name())


def _is_parameter_copy(t: torch.Tensor) -> bool:
    """Whether ``t`` is a parameter's data cast to another dtype or device (autocast's bf16
    weight): its autograd history, through casts and views only, leads to one parameter, with
    at least one cast on the way."""
    node, cast = t.grad_fn, False
    while node is not None:
        if isinstance(node, torch._C._functions.AccumulateGrad):  # the parameter itself
            return cast
        op = _op(node)
        if op == _CAST_OP:
            cast = True
        elif op not in _VIEW_OPS:
            return False
        inputs = [n for n, _ in node.next_functions if n is not None]
        if len(inputs) != 1:
            return False
        node = inputs[0]
    return False


class HeldMemoryMeter:
    """Counts saved-for-backward bytes and optimiser memory while active (module doc)."""

    def __init__(self) -> None:
        self._activations = _Tally()
        self._casts = _Tally()
        self.parameter_bytes = 0
        self.state_bytes = 0
        self._hooks: Any = None
        self._step_hook: RemovableHandle | None = None

    @property
    def saved_peak(self) -> int:
        """Peak bytes of saved activations (parameters and their copies aside)."""
        return self._activations.peak

    @property
    def cast_parameter_peak(self) -> int:
        """Peak bytes of saved copies of parameters (autocast's low-precision weights)."""
        return self._casts.peak

    @property
    def _bytes(self) -> int:
        """Bytes saved for backward alive now, of both kinds (0 once every backward ran)."""
        return self._activations.bytes + self._casts.bytes

    def _pack(self, t: torch.Tensor) -> Any:
        if _is_parameter(t):
            return t
        tally = self._casts if _is_parameter_copy(t) else self._activations
        key = tally.hold(t)
        holder = _Saved(t)
        weakref.finalize(holder, tally.release, key)
        return holder

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
        return HeldMemory(
            saved_for_backward_peak_bytes=self.saved_peak,
            parameter_bytes=self.parameter_bytes,
            optimizer_state_bytes=self.state_bytes,
            rows=rows,
            cast_parameter_peak_bytes=self.cast_parameter_peak,
        )

"""The shape of a world, checked before any process starts: how many ranks, which layers each
holds, which backend carries their messages, how the processes start."""

from __future__ import annotations

from typing import Literal

import torch
import torch.distributed as dist

from ff_algos.parallel.errors import WorldError

Backend = Literal["auto", "gloo", "nccl"]
StartMethod = Literal["auto", "forkserver", "fork", "spawn"]
BACKENDS = ("auto", "gloo", "nccl")
START_METHODS = ("auto", "forkserver", "fork", "spawn")


def check_ranks(world: int, threads: int, timeout_s: float) -> None:
    """Raise :class:`WorldError` for a world size, thread count or timeout that cannot run."""
    if world < 1:
        raise WorldError(f"world={world} must be 1 or more ranks, e.g. --set world=2")
    if threads < 1:
        raise WorldError(f"threads={threads} must be 1 or more threads per rank")
    if not timeout_s > 0:
        raise WorldError(f"timeout_s={timeout_s!r} must be positive seconds, e.g. 300")


def split_layers(layers: int, world: int) -> tuple[tuple[int, ...], ...]:
    """The 1-based layers of each rank: ``layers / world`` consecutive layers per rank. A world
    larger than the layers, or a split that does not divide, is a :class:`WorldError`."""
    if world > layers:
        raise WorldError(
            f"world={world} ranks but the network has {layers} layers: a rank needs at least "
            f"one layer; use --set world={layers} or fewer, or more layers"
        )
    if layers % world:
        fits = [w for w in range(1, layers + 1) if layers % w == 0]
        raise WorldError(
            f"{layers} layers do not split evenly over world={world} ranks; use a world of "
            f"{', '.join(map(str, fits))} or a depth that is a multiple of {world}"
        )
    per = layers // world
    return tuple(tuple(range(r * per + 1, (r + 1) * per + 1)) for r in range(world))


def resolve_backend(backend: str, device: torch.device, world: int) -> str:
    """The backend a world of ``world`` ranks on ``device`` uses (``auto``: NCCL on CUDA, gloo on
    CPU); one that the device or this build of torch cannot run is a :class:`WorldError`."""
    if backend not in BACKENDS:
        raise WorldError(f"backend={backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
    if not dist.is_available():
        raise WorldError("this build of torch has no torch.distributed; install a full build")
    chosen = ("nccl" if device.type == "cuda" else "gloo") if backend == "auto" else backend
    if chosen == "nccl":
        if device.type != "cuda":
            raise WorldError(
                f"backend=nccl needs CUDA tensors but the device is {device}; use --set "
                "backend=gloo on a CPU (or --device cuda)"
            )
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if gpus == 0 or not dist.is_nccl_available():
            raise WorldError(
                "backend=nccl but no GPU (or no NCCL in this torch) is visible; use --set "
                "backend=gloo"
            )
        if gpus < world:
            raise WorldError(
                f"backend=nccl with world={world} needs one GPU per rank but {gpus} are "
                f"visible; use --set world={gpus} or run on more GPUs"
            )
    elif chosen == "gloo":
        if not dist.is_gloo_available():
            raise WorldError("backend=gloo is not in this build of torch; use --set backend=nccl")
        if device.type not in ("cpu", "cuda"):
            raise WorldError(f"backend=gloo cannot carry {device.type} tensors; use a CPU")
    return chosen


def resolve_start_method(start_method: str, threads: int) -> str:
    """How the local ranks start. ``auto``: forkserver (a clean server process that imported
    torch once forks every rank, so no rank inherits this process's threads, OpenMP pool or
    CUDA state). ``fork`` starts fastest but is unsafe once this process initialised CUDA or
    used an OpenMP pool of more than one thread (its ranks hang), and a fork of a long-lived
    process with other threads can crash; ``spawn`` imports everything again per rank."""
    if start_method not in START_METHODS:
        raise WorldError(
            f"start_method={start_method!r} is unknown; choose one of {', '.join(START_METHODS)}"
        )
    if start_method == "fork" and threads > 1:
        raise WorldError(
            f"start_method=fork with threads={threads}: a forked rank's OpenMP pool hangs once "
            "this process has used one; use --set start_method=forkserver (or auto)"
        )
    cuda = torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
    if start_method == "fork" and cuda:
        raise WorldError(
            "start_method=fork after this process initialised CUDA: the ranks cannot use it; "
            "use --set start_method=forkserver (or auto)"
        )
    return "forkserver" if start_method == "auto" else start_method

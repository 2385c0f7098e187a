"""Shards on one machine without SLURM: one process per visible GPU (pinned with
``CUDA_VISIBLE_DEVICES``), or a set number of CPU processes, each with its own thread count.

Each process runs the sweep's job script with ``SLURM_ARRAY_TASK_ID`` set to its shard, exactly
as an array task would. (submitit's local executor has no queue and pins no GPUs; pytest-xdist is
no option because pytest-benchmark turns itself off under it.)
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from ff_algos.sweep.layout import SweepDir


def slots(gpus: Sequence[str], workers: int | None, cpus: int) -> list[dict[str, str]]:
    """The environment of each worker: one per GPU id in ``gpus``, else ``workers`` CPU
    processes (default 1); threads split the machine's ``cpus`` between them."""
    if gpus:
        threads = str(max(1, cpus // len(gpus)))
        return [{"CUDA_VISIBLE_DEVICES": g, "OMP_NUM_THREADS": threads} for g in gpus]
    count = workers or 1
    threads = str(max(1, cpus // count))
    return [{"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": threads} for _ in range(count)]


def pin(device: str, gpus: Sequence[str]) -> tuple[list[str], str]:
    """The GPU ids to pin workers to and the ``--device`` each worker's pytest gets.

    A pinned worker sees one GPU (its ``CUDA_VISIBLE_DEVICES``), which it numbers ``cuda:0``;
    so ``cuda:N`` pins the one worker to the N-th GPU listed in ``gpus`` and hands it
    ``cuda:0`` (passing ``cuda:N`` on would name a GPU the worker cannot see), while ``cuda``
    and ``auto`` use every GPU unchanged. Raises ``ValueError`` for an N beyond ``gpus``.
    """
    if not device.startswith("cuda:"):
        return list(gpus), device
    index = int(device.removeprefix("cuda:"))
    if index >= len(gpus):
        raise ValueError(f"--device {device}: only {len(gpus)} GPUs are visible here ({gpus})")
    return [gpus[index]], worker_device(device)


def worker_device(device: str) -> str:
    """The ``--device`` of a worker pinned to one GPU (see :func:`pin`)."""
    return "cuda:0" if device.startswith("cuda:") else device


def visible_gpus() -> list[str]:
    """GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else every CUDA device."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


class LocalRun:
    """Shards of one submission running as local processes, a worker per slot."""

    def __init__(self, sweep: SweepDir, submission: int, script: Path, slots: list[dict[str, str]]):
        self._sweep, self._submission, self._script = sweep, submission, script
        self._slots = slots
        self._todo: queue.Queue[int] = queue.Queue()
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, shards: Sequence[int]) -> None:
        """Queue the shards and start one worker thread per slot."""
        for k in shards:
            self._todo.put(k)
        for env in self._slots:
            thread = threading.Thread(target=self._work, args=(env,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def states(self) -> dict[int, str]:
        """Shard -> ``pending`` or ``running`` for the shards not ended yet."""
        with self._lock:
            running = set(self._running)
        pending = set(self._todo.queue)
        return {k: "pending" for k in pending} | {k: "running" for k in running}

    def alive(self) -> bool:
        """Whether any worker is still running or has shards to start."""
        return any(t.is_alive() for t in self._threads)

    def _work(self, env: dict[str, str]) -> None:
        while True:
            try:
                k = self._todo.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                self._running.add(k)
            log = self._sweep.log(k, self._submission)
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("ab") as out:
                subprocess.run(
                    ["bash", str(self._script)],
                    env=os.environ | env | {"SLURM_ARRAY_TASK_ID": str(k)},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            with self._lock:
                self._running.discard(k)

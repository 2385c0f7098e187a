"""A local sweep pinned by CUDA_VISIBLE_DEVICES: which GPUs the workers get and what device
their pytest is told to use (each sees one GPU, numbered cuda:0)."""

from __future__ import annotations

import pytest

from ff_algos.sweep.local import pin, slots, worker_device


def test_cuda_n_pins_the_nth_visible_gpu_and_the_worker_calls_it_cuda0() -> None:
    assert pin("cuda:1", ["4", "6"]) == (["6"], "cuda:0")
    assert pin("cuda:0", ["GPU-aa", "GPU-bb"]) == (["GPU-aa"], "cuda:0")
    made = slots(pin("cuda:1", ["4", "6"])[0], None, 16)
    assert made == [{"CUDA_VISIBLE_DEVICES": "6", "OMP_NUM_THREADS": "16"}]


def test_bare_cuda_and_auto_use_every_gpu_unchanged() -> None:
    assert pin("cuda", ["0", "1"]) == (["0", "1"], "cuda")
    assert pin("auto", ["0", "1"]) == (["0", "1"], "auto")
    assert worker_device("cuda:3") == "cuda:0"
    assert worker_device("cpu") == "cpu"


def test_cuda_n_beyond_the_visible_gpus_is_refused() -> None:
    with pytest.raises(ValueError, match="only 2 GPUs are visible"):
        pin("cuda:2", ["0", "1"])

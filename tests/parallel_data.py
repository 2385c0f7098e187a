"""Small MNIST-shaped data for the multi-process tests (no files needed)."""

from __future__ import annotations

from pathlib import Path

import torch

from ff_algos.data import LoadedDataset, Split, dataset_info


def synthetic(n_train: int = 256, n_test: int = 64) -> LoadedDataset:
    """Random 784-pixel rows with one bright pixel per class: learnable in a few steps."""
    gen = torch.Generator().manual_seed(0)
    info = dataset_info("mnist")
    y = torch.arange(n_train + n_test) % info.num_classes
    y = y[torch.randperm(len(y), generator=gen)]
    x = torch.rand(n_train + n_test, info.input_size, generator=gen) * 0.3
    x[torch.arange(len(y)), 20 + y * 7] += 1.0
    return LoadedDataset(
        info=info,
        train=Split(x[:n_train], y[:n_train]),
        test=Split(x[n_train:], y[n_train:]),
        root=Path("."),
        load_seconds=0.0,
        source="synthetic",
    )

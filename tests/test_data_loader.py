"""load_dataset on a tiny MNIST-format root: values against a plain reference, splits,
subsets, presence, the not-found and checksum errors, and torchvision over the same files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd

from ff_algos.data import (
    ChecksumError,
    DatasetNotFoundError,
    Split,
    UnknownDatasetError,
    is_present,
    load_dataset,
    raw_arrays,
    torchvision_dataset,
)
from ff_algos.data.cache import cache_dir

if TYPE_CHECKING:
    from tests.conftest import TinyIdx


def _reference(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """Plain per-pixel normalisation in float64: (x / 255 - mean) / std, flattened."""
    x = images.astype(np.float64).reshape(len(images), -1) / 255.0
    return torch.from_numpy((x - mean) / std)


def test_values_match_reference(tiny_mnist: TinyIdx) -> None:
    data = load_dataset("mnist", root=tiny_mnist.root)
    assert data.source == "decoded"
    assert data.root == tiny_mnist.root
    assert data.load_seconds > 0
    mean, std = data.info.mean[0], data.info.std[0]
    for split, images, labels in (
        (data.train, tiny_mnist.train_x, tiny_mnist.train_y),
        (data.test, tiny_mnist.test_x, tiny_mnist.test_y),
    ):
        assert split.x.dtype == torch.float32
        assert split.x.shape == (len(images), 784)
        assert split.y.dtype == torch.int64
        assert torch.allclose(split.x.double(), _reference(images, mean, std), atol=1e-5)
        np.testing.assert_array_equal(split.y.numpy(), labels)
    again = load_dataset("MNIST", root=tiny_mnist.root, device=torch.device("cpu"))
    assert again.source == "cache"
    assert torch.equal(again.train.x, data.train.x)
    assert torch.equal(again.test.y, data.test.y)


def test_split_tensors_own_their_memory(tiny_mnist: TinyIdx) -> None:
    data = load_dataset("mnist", root=tiny_mnist.root)
    data = load_dataset("mnist", root=tiny_mnist.root)  # from the memory-mapped cache
    assert data.source == "cache"
    before = raw_arrays("mnist", tiny_mnist.root)[1].copy()
    data.train.y.zero_()  # must not write through to the cache
    np.testing.assert_array_equal(raw_arrays("mnist", tiny_mnist.root)[1], before)


def test_subset_is_seeded(tiny_mnist: TinyIdx) -> None:
    split = load_dataset("mnist", root=tiny_mnist.root).train
    a, b, c = split.subset(7, seed=1), split.subset(7, seed=1), split.subset(7, seed=2)
    assert len(a) == 7
    assert torch.equal(a.x, b.x)
    assert torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    # every subset row is a row of the split, with its own label
    for row, label in zip(a.x, a.y, strict=True):
        matches = (split.x == row).all(dim=1).nonzero().flatten()
        assert len(matches) == 1
        assert split.y[matches[0]] == label
    assert split.subset(None, seed=0) is split
    assert split.subset(len(split), seed=0) is split
    assert split.subset(10_000, seed=0) is split


def test_split_len() -> None:
    split = Split(torch.zeros(3, 4), torch.zeros(3, dtype=torch.int64))
    assert len(split) == 3


def test_raw_arrays_are_read_only_maps(tiny_mnist: TinyIdx) -> None:
    train_x, train_y, test_x, test_y = raw_arrays("mnist", tiny_mnist.root)
    assert isinstance(train_x, np.memmap)
    assert not train_x.flags.writeable
    assert train_x.shape == (30, 1, 28, 28)
    np.testing.assert_array_equal(train_x[:, 0], tiny_mnist.train_x)
    np.testing.assert_array_equal(test_x[:, 0], tiny_mnist.test_x)
    np.testing.assert_array_equal(train_y, tiny_mnist.train_y)
    np.testing.assert_array_equal(test_y, tiny_mnist.test_y)
    assert test_y.dtype == np.int64


def test_matches_torchvision_mnist(tiny_mnist: TinyIdx) -> None:
    for train in (True, False):
        reference = torchvision_dataset("mnist", tiny_mnist.root, train=train)
        assert isinstance(reference, tvd.MNIST)
        x, y = (
            raw_arrays("mnist", tiny_mnist.root)[0:2]
            if train
            else raw_arrays("mnist", tiny_mnist.root)[2:4]
        )
        np.testing.assert_array_equal(x[:, 0], reference.data.numpy())
        np.testing.assert_array_equal(y, reference.targets.numpy())


def test_not_present_says_where_and_how(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    assert not is_present("mnist", root)
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("mnist", root=root)
    message = str(caught.value)
    assert "\n" not in message
    assert f"looked in {root}/MNIST/raw" in message
    assert f"`ff-bench data fetch mnist --data-root {root}`" in message
    assert "train-images-idx3-ubyte and 3 more" in message
    with pytest.raises(
        DatasetNotFoundError, match=r"fetch cifar10 --data-root .*\(needs internet\)"
    ):
        load_dataset("cifar10", root=root)
    with pytest.raises(DatasetNotFoundError, match=r"place the cropped-digit files"):
        torchvision_dataset("svhn", root, train=True)
    assert not root.exists()  # looking never creates anything


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(UnknownDatasetError, match=r"unknown dataset 'emnist'; valid names: mnist"):
        load_dataset("emnist", root=tmp_path)
    with pytest.raises(UnknownDatasetError):
        is_present("emnist", tmp_path)


def test_is_present_from_files_or_valid_cache(tiny_mnist: TinyIdx) -> None:
    assert is_present("mnist", tiny_mnist.root)
    load_dataset("mnist", root=tiny_mnist.root)
    raw = tiny_mnist.root / "MNIST" / "raw"
    for path in raw.iterdir():
        path.unlink()
    assert is_present("mnist", tiny_mnist.root)  # the cache alone is enough
    assert load_dataset("mnist", root=tiny_mnist.root).source == "cache"
    (cache_dir("mnist", tiny_mnist.root) / "train_x.npy").unlink()
    assert not is_present("mnist", tiny_mnist.root)


def test_wrong_content_is_a_checksum_error(tiny_mnist: TinyIdx) -> None:
    path = tiny_mnist.root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[-1] = (data[-1] + 1) % 10  # still a valid idx file, different bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as caught:
        load_dataset("mnist", root=tiny_mnist.root)
    message = str(caught.value)
    assert str(path) in message
    assert "expected" in message
    assert "\n" not in message
    assert not cache_dir("mnist", tiny_mnist.root).exists()  # nothing cached from bad files


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_load_matches_cpu(tiny_mnist: TinyIdx) -> None:
    cpu = load_dataset("mnist", root=tiny_mnist.root)
    gpu = load_dataset("mnist", root=tiny_mnist.root, device="cuda")
    assert gpu.train.x.device.type == "cuda"
    assert gpu.train.y.device.type == "cuda"
    assert torch.allclose(gpu.train.x.cpu(), cpu.train.x, atol=1e-6)
    sub = gpu.train.subset(5, seed=3)
    assert sub.x.device.type == "cuda"
    assert torch.equal(sub.y.cpu(), cpu.train.subset(5, seed=3).y)

"""Real MNIST and FashionMNIST from $FF_BENCH_DATA: sizes, classes, digests, pixel statistics and
the normalisation constants measured from them. Skips when the data is absent (fails when
FF_BENCH_REQUIRE_DATA=1); fetch it with `ff-bench data fetch mnist fashion_mnist`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd

from ff_algos.data import CacheRebuiltWarning, catalog, dataset_info, load_dataset, raw_arrays
from ff_algos.data.cache import cache_dir
from ff_algos.data.files import sha256_file
from ff_algos.data.formats import dataset_dir

NeedData = Callable[[str], Path]
MNIST_FAMILY = ("mnist", "fashion_mnist")
RAW_MEAN = {"mnist": 33.32, "fashion_mnist": 72.94}  # mean raw training pixel, 0..255

pytestmark = pytest.mark.real_data


@pytest.mark.parametrize("name", MNIST_FAMILY)
def test_canonical_files_match_catalog_digests(real_data_root: NeedData, name: str) -> None:
    root = real_data_root(name)
    for fname, expected in catalog.IDX_SHA256[name].items():
        assert sha256_file(dataset_dir(name, root) / fname) == expected


@pytest.mark.parametrize("name", MNIST_FAMILY)
def test_sizes_classes_and_pixels(real_data_root: NeedData, name: str) -> None:
    root = real_data_root(name)
    train_x, train_y, test_x, test_y = raw_arrays(name, root)
    assert train_x.shape == (60000, 1, 28, 28)
    assert test_x.shape == (10000, 1, 28, 28)
    assert np.unique(train_y).tolist() == list(range(10))
    assert np.unique(test_y).tolist() == list(range(10))
    if name == "fashion_mnist":
        assert np.bincount(train_y).tolist() == [6000] * 10
        assert np.bincount(test_y).tolist() == [1000] * 10
    # exact pixel statistics from the histogram of the 47M training pixels
    histogram = torch.bincount(torch.from_numpy(np.array(train_x)).ravel(), minlength=256)
    counts = histogram.numpy().astype(np.float64)
    values = np.arange(256, dtype=np.float64)
    mean = (counts * values).sum() / counts.sum()
    std = np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())
    assert mean == pytest.approx(RAW_MEAN[name], abs=0.01)
    # the registry's constants are these measured statistics, on the 0..1 scale
    info = dataset_info(name)
    assert info.mean[0] == pytest.approx(mean / 255, abs=1e-6)
    assert info.std[0] == pytest.approx(std / 255, abs=1e-6)


@pytest.mark.parametrize("name", MNIST_FAMILY)
def test_loaded_splits_are_normalised(real_data_root: NeedData, name: str) -> None:
    data = load_dataset(name, root=real_data_root(name))
    assert data.train.x.shape == (60000, 784)
    assert data.test.x.shape == (10000, 784)
    assert data.train.y.shape == (60000,)
    assert data.info.num_classes == 10
    std, mean = torch.std_mean(data.train.x)
    assert mean.item() == pytest.approx(0.0, abs=1e-3)
    assert std.item() == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("name", MNIST_FAMILY)
def test_same_data_as_torchvision(real_data_root: NeedData, name: str) -> None:
    root = real_data_root(name)
    train_x, train_y, test_x, test_y = raw_arrays(name, root)
    cls = getattr(tvd, dataset_info(name).torchvision_name)
    for x, y, train in ((train_x, train_y, True), (test_x, test_y, False)):
        reference = cls(str(root), train=train, download=False)
        assert np.array_equal(x[:, 0], reference.data.numpy())
        assert np.array_equal(y, reference.targets.numpy())


def test_damaged_real_cache_is_rebuilt(real_data_root: NeedData, tmp_path: Path) -> None:
    source = dataset_dir("mnist", real_data_root("mnist"))
    raw = dataset_dir("mnist", tmp_path)
    raw.mkdir(parents=True)
    for fname in catalog.LAYOUTS["mnist"].files:
        (raw / fname).symlink_to(source / fname)
    first = load_dataset("mnist", root=tmp_path)
    assert first.source == "decoded"
    target = cache_dir("mnist", tmp_path) / "train_x.npy"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit in the middle of the images
    target.write_bytes(bytes(data))
    with pytest.warns(CacheRebuiltWarning, match=r"train_x.npy: crc32"):
        again = load_dataset("mnist", root=tmp_path)
    assert again.source == "decoded"
    assert torch.equal(again.train.x, first.train.x)

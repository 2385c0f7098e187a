"""Names, aliases, static facts and the data root."""

from __future__ import annotations

from pathlib import Path

import pytest

from ff_algos.data import (
    DATASETS,
    UnknownDatasetError,
    dataset_info,
    default_root,
    resolve_root,
)
from ff_algos.errors import FFBenchError


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("mnist", "mnist"),
        ("MNIST", "mnist"),
        ("FashionMNIST", "fashion_mnist"),
        ("fashion-mnist", "fashion_mnist"),
        ("Fashion_MNIST", "fashion_mnist"),
        ("CIFAR10", "cifar10"),
        ("cifar-100", "cifar100"),
        ("SVHN", "svhn"),
    ],
)
def test_names_aliases_and_torchvision_names(given: str, canonical: str) -> None:
    assert dataset_info(given).name == canonical


def test_every_dataset_is_described() -> None:
    assert DATASETS == ("mnist", "fashion_mnist", "cifar10", "cifar100", "svhn")
    for name in DATASETS:
        info = dataset_info(name)
        channels = info.image_shape[0]
        assert len(info.mean) == len(info.std) == channels
        assert all(0 < m < 1 for m in info.mean)
        assert all(0 < s < 1 for s in info.std)
        assert info.input_size == channels * info.image_shape[1] * info.image_shape[2]
        assert dataset_info(info.torchvision_name) == info
    assert dataset_info("mnist").input_size == 784
    assert dataset_info("cifar100").num_classes == 100


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownDatasetError) as caught:
        dataset_info("imagenet")
    message = str(caught.value)
    assert "'imagenet'" in message
    assert "\n" not in message
    for name in DATASETS:
        assert name in message
    assert isinstance(caught.value, FFBenchError)


def test_default_root_env_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FF_BENCH_DATA", str(tmp_path / "data"))
    assert default_root() == tmp_path / "data"
    monkeypatch.delenv("FF_BENCH_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "ff-bench" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home" / ".cache" / "ff-bench" / "data"


def test_resolve_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FF_BENCH_DATA", str(tmp_path))
    assert resolve_root(None) == tmp_path
    assert resolve_root(str(tmp_path / "x")) == tmp_path / "x"
    monkeypatch.chdir(tmp_path)
    assert resolve_root("rel") == tmp_path / "rel"

"""CIFAR10, CIFAR100 and SVHN decoders on tiny files in the canonical formats, checked against
torchvision's own classes on the same files; the CIFAR unpickler's allow-list."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd

from ff_algos.data import CorruptFileError, catalog, load_dataset, raw_arrays, torchvision_dataset

Publish = Callable[[Path, str], dict[str, str]]  # the conftest fixture `publish`
CHANNEL_VALUES = (10, 120, 230)  # a distinct value per channel (R, G, B)
MARK = (1, 3, 5)  # (channel, row, column) of one pixel set to 255 in every image


def _cifar_rows(n: int, offset: int) -> np.ndarray:
    """(n, 3072) uint8 rows in CIFAR's channel-first order: channel c holds
    CHANNEL_VALUES[c] + image index, and pixel MARK is 255."""
    images = np.empty((n, 3, 32, 32), dtype=np.uint8)
    for c, value in enumerate(CHANNEL_VALUES):
        images[:, c] = (value + offset + np.arange(n) % 20)[:, None, None]
    images[(slice(None), *MARK)] = 255
    return images.reshape(n, 3072)


def write_cifar(root: Path, name: str, n: int = 6, protocol: int = 2) -> np.ndarray:
    """Write every batch of ``name`` with ``n`` images each; returns all labels in file order."""
    layout = catalog.LAYOUTS[name]
    key = "labels" if name == "cifar10" else "fine_labels"
    classes = catalog.dataset_info(name).num_classes
    folder = root / layout.folder
    folder.mkdir(parents=True)
    labels = []
    for i, fname in enumerate(layout.files):
        y = [(7 * (i * n + k)) % classes for k in range(n)]
        batch: dict[str, Any] = {"batch_label": fname, "data": _cifar_rows(n, i), key: y}
        if name == "cifar100":
            batch["coarse_labels"] = [v // 5 for v in y]
        (folder / fname).write_bytes(pickle.dumps(batch, protocol=protocol))
        labels.extend(y)
    return np.array(labels, dtype=np.int64)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_cifar_shapes_channels_labels(
    publish: Publish, tmp_path: Path, name: str, protocol: int
) -> None:
    labels = write_cifar(tmp_path, name, protocol=protocol)
    publish(tmp_path, name)
    train_x, train_y, test_x, test_y = raw_arrays(name, tmp_path)
    n_train = 6 * len(catalog.LAYOUTS[name].train)
    assert train_x.shape == (n_train, 3, 32, 32)
    assert test_x.shape == (6, 3, 32, 32)
    assert train_x.dtype == np.uint8
    assert train_y.dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([train_y, test_y]), labels)
    for c, value in enumerate(CHANNEL_VALUES):
        assert train_x[2, c, 0, 0] == value + 2  # first file, third image
    assert train_x[(slice(None), *MARK)].min() == 255
    # flattened channel-first: channel c, row h, column w sit at c*1024 + h*32 + w
    data = load_dataset(name, root=tmp_path)
    info = data.info
    c, h, w = MARK
    col = c * 1024 + h * 32 + w
    expected = (1.0 - info.mean[c]) / info.std[c]
    assert torch.allclose(data.train.x[:, col], torch.full((n_train,), expected), atol=1e-5)
    blue = (CHANNEL_VALUES[2] / 255 - info.mean[2]) / info.std[2]
    assert data.train.x[0, 2 * 1024 + 7].item() == pytest.approx(blue, abs=1e-5)


def test_cifar_matches_torchvision(
    publish: Publish, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cifar(tmp_path, "cifar10")
    publish(tmp_path, "cifar10")
    # the tiny files have no canonical md5 and no class-name file: skip those checks only
    monkeypatch.setattr(tvd.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(tvd.CIFAR10, "_load_meta", lambda self: None)
    for train in (True, False):
        reference = torchvision_dataset("cifar10", tmp_path, train=train)
        assert isinstance(reference, tvd.CIFAR10)
        x, y = (
            raw_arrays("cifar10", tmp_path)[0:2] if train else raw_arrays("cifar10", tmp_path)[2:4]
        )
        np.testing.assert_array_equal(x.transpose(0, 2, 3, 1), reference.data)  # HWC there
        np.testing.assert_array_equal(y, reference.targets)


def write_svhn(path: Path, n: int = 12) -> np.ndarray:
    """A .mat in SVHN's layout: X (H, W, C, N) uint8, y (N, 1) with 10 for the digit 0."""
    scipy_io = pytest.importorskip("scipy.io")
    x = np.empty((32, 32, 3, n), dtype=np.uint8)
    for c, value in enumerate(CHANNEL_VALUES):
        x[:, :, c, :] = value + np.arange(n)
    c, h, w = MARK
    x[h, w, c, :] = 255
    y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # 1..10
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy_io.savemat(path, {"X": x, "y": y})
    return y.ravel().astype(np.int64)


def test_svhn_layout_and_label_ten(
    publish: Publish, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = write_svhn(tmp_path / "train_32x32.mat")
    write_svhn(tmp_path / "test_32x32.mat", n=5)
    publish(tmp_path, "svhn")
    train_x, train_y, test_x, _ = raw_arrays("svhn", tmp_path)
    assert train_x.shape == (12, 3, 32, 32)
    assert test_x.shape == (5, 3, 32, 32)
    assert 10 in stored
    np.testing.assert_array_equal(train_y, np.where(stored == 10, 0, stored))
    for c, value in enumerate(CHANNEL_VALUES):
        assert train_x[4, c, 0, 0] == value + 4
    c, h, w = MARK
    assert train_x[:, c, h, w].min() == 255
    assert train_x[:, c, w, h].max() < 255  # rows and columns not swapped
    monkeypatch.setattr(tvd.SVHN, "_check_integrity", lambda self: True)  # no canonical md5
    reference = torchvision_dataset("svhn", tmp_path, train=True)
    assert isinstance(reference, tvd.SVHN)
    np.testing.assert_array_equal(train_x, reference.data)
    np.testing.assert_array_equal(train_y, reference.labels)


def test_svhn_wrong_layout_is_named(publish: Publish, tmp_path: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    write_svhn(tmp_path / "test_32x32.mat")
    bad = np.zeros((4, 32, 32, 3), dtype=np.uint8)  # (N, H, W, C): not SVHN's layout
    scipy_io.savemat(tmp_path / "train_32x32.mat", {"X": bad, "y": np.ones((4, 1))})
    publish(tmp_path, "svhn")
    with pytest.raises(
        CorruptFileError, match=r"train_32x32.mat: 'X' should be uint8 \(32, 32, 3, N\)"
    ):
        raw_arrays("svhn", tmp_path)


def test_cifar_pickles_from_before_numpy_2_load(publish: Publish, tmp_path: Path) -> None:
    labels = write_cifar(tmp_path, "cifar100")
    for path in (tmp_path / "cifar-100-python").iterdir():
        # the canonical files name numpy.core, as pickled before numpy 2
        blob = path.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        assert b"numpy.core.multiarray" in blob
        path.write_bytes(blob)
    publish(tmp_path, "cifar100")
    _, train_y, _, test_y = raw_arrays("cifar100", tmp_path)
    np.testing.assert_array_equal(np.concatenate([train_y, test_y]), labels)


class _Exploit:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_cifar_unpickler_refuses_code(publish: Publish, tmp_path: Path) -> None:
    write_cifar(tmp_path, "cifar10")
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(pickle.dumps({"data": _Exploit(), "labels": []}))
    publish(tmp_path, "cifar10")  # past the md5 check, to the unpickler
    with pytest.raises(
        CorruptFileError, match=r"data_batch_3 is not a CIFAR python batch: refusing"
    ):
        raw_arrays("cifar10", tmp_path)


def test_cifar_missing_key_and_bad_rows(publish: Publish, tmp_path: Path) -> None:
    write_cifar(tmp_path, "cifar100")
    path = tmp_path / "cifar-100-python" / "test"
    path.write_bytes(pickle.dumps({"data": _cifar_rows(2, 0), "labels": [0, 1]}))
    publish(tmp_path, "cifar100")
    with pytest.raises(CorruptFileError, match=r"test: CIFAR batch lacks 'data' or 'fine_labels'"):
        raw_arrays("cifar100", tmp_path)
    path.write_bytes(pickle.dumps({"data": np.zeros((2, 784), np.uint8), "fine_labels": [0, 1]}))
    publish(tmp_path, "cifar100")
    with pytest.raises(CorruptFileError, match=r"'data' should be uint8 \(N, 3072\)"):
        raw_arrays("cifar100", tmp_path)
    path.write_bytes(b"not a pickle")
    publish(tmp_path, "cifar100")
    with pytest.raises(CorruptFileError, match="test is not a CIFAR python batch"):
        raw_arrays("cifar100", tmp_path)


def test_label_out_of_range(publish: Publish, tmp_path: Path) -> None:
    write_cifar(tmp_path, "cifar10")
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({"data": _cifar_rows(2, 0), "labels": [3, 10]}))
    publish(tmp_path, "cifar10")
    with pytest.raises(CorruptFileError, match=r"test_batch: labels span 3..10, expected 0..9"):
        raw_arrays("cifar10", tmp_path)

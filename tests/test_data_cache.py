"""The uint8 cache: written once, memory-mapped after, and every kind of damage detected and
rebuilt from the canonical files rather than used."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from ff_algos.data import CacheRebuiltWarning, DatasetNotFoundError, load_dataset, raw_arrays
from ff_algos.data import cache as cache_mod
from ff_algos.data.cache import MANIFEST, cache_dir

if TYPE_CHECKING:
    from tests.conftest import TinyIdx


def test_layout_and_manifest(tiny_mnist: TinyIdx) -> None:
    load_dataset("mnist", root=tiny_mnist.root)
    folder = cache_dir("mnist", tiny_mnist.root)
    assert folder == tiny_mnist.root / "ff-bench-cache" / "mnist"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [MANIFEST, "test_x.npy", "test_y.npy", "train_x.npy", "train_y.npy"]
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["dataset"] == "mnist"
    entry = manifest["arrays"]["train_x"]
    assert entry["shape"] == [30, 1, 28, 28]
    assert entry["dtype"] == "|u1"
    assert entry["bytes"] == (folder / "train_x.npy").stat().st_size
    assert np.load(folder / "train_y.npy").dtype == np.int64
    assert cache_mod.state("mnist", tiny_mnist.root) == "valid"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-50])


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _garbage_manifest(path: Path) -> None:
    (path.parent / MANIFEST).write_text("{not json")


def _other_shape(path: Path) -> None:
    array = np.load(path)
    np.save(path, array.reshape(len(array), 28, 28, 1))  # same bytes, wrong header shape


def _missing(path: Path) -> None:
    path.unlink()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_truncate, r"train_x.npy has \d+ bytes, the manifest says \d+"),
    "flipped byte": (_flip_last_byte, r"train_x.npy: crc32 \d+, the manifest says \d+"),
    "bad manifest": (_garbage_manifest, r"manifest.json is unreadable"),
    "wrong shape": (_other_shape, r"train_x.npy holds \|u1 \[30, 28, 28, 1\]"),
    "missing": (_missing, r"train_x.npy is missing from the cache"),
    "empty": (_empty, r"train_x.npy has 0 bytes"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damage_is_detected_and_rebuilt(tiny_mnist: TinyIdx, damage: str) -> None:
    first = load_dataset("mnist", root=tiny_mnist.root)
    damage_fn, reason = DAMAGE[damage]
    damage_fn(cache_dir("mnist", tiny_mnist.root) / "train_x.npy")
    assert cache_mod.state("mnist", tiny_mnist.root).startswith("invalid: ")
    with pytest.warns(CacheRebuiltWarning, match=reason):
        rebuilt = load_dataset("mnist", root=tiny_mnist.root)
    assert rebuilt.source == "decoded"
    assert torch.equal(rebuilt.train.x, first.train.x)
    assert cache_mod.state("mnist", tiny_mnist.root) == "valid"
    assert load_dataset("mnist", root=tiny_mnist.root).source == "cache"


def test_damaged_cache_without_files_is_not_found(tiny_mnist: TinyIdx) -> None:
    load_dataset("mnist", root=tiny_mnist.root)
    for path in (tiny_mnist.root / "MNIST" / "raw").iterdir():
        path.unlink()
    _flip_last_byte(cache_dir("mnist", tiny_mnist.root) / "test_x.npy")
    with (
        pytest.warns(CacheRebuiltWarning, match="test_x.npy: crc32"),
        pytest.raises(DatasetNotFoundError, match="ff-bench data fetch mnist"),
    ):
        load_dataset("mnist", root=tiny_mnist.root)


def test_raw_arrays_also_rebuild(tiny_mnist: TinyIdx) -> None:
    raw_arrays("mnist", tiny_mnist.root)
    _flip_last_byte(cache_dir("mnist", tiny_mnist.root) / "test_y.npy")
    with pytest.warns(CacheRebuiltWarning, match="test_y.npy"):
        _, _, _, test_y = raw_arrays("mnist", tiny_mnist.root)
    np.testing.assert_array_equal(test_y, tiny_mnist.test_y)


def test_failed_write_leaves_no_partial_file(
    tiny_mnist: TinyIdx, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = cache_dir("mnist", tiny_mnist.root)
    real_save = np.save
    calls = []

    def failing_save(file: object, array: np.ndarray, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 3:  # third array: disk full
            raise OSError(28, "No space left on device")
        real_save(file, array, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.warns(UserWarning, match="could not write the cache of mnist: .*No space left"):
        data = load_dataset("mnist", root=tiny_mnist.root)
    assert data.source == "decoded"
    assert len(data.train) == 30
    assert sorted(os.listdir(folder)) == ["train_x.npy", "train_y.npy"]  # no temp, no manifest
    assert cache_mod.load("mnist", tiny_mnist.root) is None  # no manifest: no cache
    monkeypatch.setattr(np, "save", real_save)
    assert load_dataset("mnist", root=tiny_mnist.root).source == "decoded"
    assert load_dataset("mnist", root=tiny_mnist.root).source == "cache"

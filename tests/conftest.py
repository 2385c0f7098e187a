"""Shared fixtures: the real-data root (skip or fail when absent), tiny idx datasets, and
published digests for tiny CIFAR and SVHN files."""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ff_algos.data import catalog, is_present, resolve_root

IdxWriter = Callable[[Path, np.ndarray], str]


def _write_idx(path: Path, array: np.ndarray) -> str:
    """Write ``array`` as a uint8 idx file; returns its sha256."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def write_idx() -> IdxWriter:
    """``write_idx(path, array)`` writes a uint8 idx file and returns its sha256."""
    return _write_idx


@dataclass(frozen=True)
class TinyIdx:
    """A tiny MNIST-format dataset written under ``root``: images (N, 28, 28), labels (N,)."""

    root: Path
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def _idx_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random 28x28 uint8 images, 30 train and 10 test, every class present."""
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8),
        np.arange(30, dtype=np.uint8) % 10,
        rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8),
        rng.permutation(10).astype(np.uint8),
    )


@pytest.fixture
def tiny_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyIdx:
    """A tiny MNIST under ``tmp_path/root``; the registry's digests are patched to these files
    so the decoder's sha256 check runs on them."""
    root = tmp_path / "root"
    folder = root / catalog.LAYOUTS["mnist"].folder
    train_x, train_y, test_x, test_y = _idx_arrays()
    files = dict(
        zip(catalog.LAYOUTS["mnist"].files, (train_x, train_y, test_x, test_y), strict=True)
    )
    digests = {name: _write_idx(folder / name, array) for name, array in files.items()}
    monkeypatch.setitem(catalog.IDX_SHA256, "mnist", digests)
    return TinyIdx(root, train_x, train_y.astype(np.int64), test_x, test_y.astype(np.int64))


Publish = Callable[[Path, str], dict[str, str]]


@pytest.fixture
def publish(monkeypatch: pytest.MonkeyPatch) -> Publish:
    """``publish(root, name)`` makes the md5 of the tiny CIFAR or SVHN files written under
    ``root`` the registry's published digests for ``name`` (for this test only), so the
    decoder's check runs on them as on the real files; returns those digests."""

    def make(root: Path, name: str) -> dict[str, str]:
        folder = root / catalog.LAYOUTS[name].folder
        digests = {
            fname: hashlib.md5((folder / fname).read_bytes(), usedforsecurity=False).hexdigest()
            for fname in catalog.PUBLISHED_MD5[name]
            if (folder / fname).is_file()
        }
        monkeypatch.setitem(catalog.PUBLISHED_MD5, name, digests)
        return digests

    return make


@pytest.fixture(scope="session")
def real_data_root() -> Callable[[str], Path]:
    """``need(name)`` returns the real-data root ($FF_BENCH_DATA) holding ``name``; when absent
    the test skips with the fetch command, or fails when FF_BENCH_REQUIRE_DATA=1 (CI).

    The root is resolved once, when the session starts: pytester and monkeypatch later change
    HOME, which would move the default root."""
    root = resolve_root(None)

    def need(name: str) -> Path:
        if is_present(name, root):
            return root
        message = (
            f"{name} not under {root}: run `ff-bench data fetch {name} --data-root {root}` "
            "and set FF_BENCH_DATA to that root"
        )
        if os.environ.get("FF_BENCH_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)

    return need


@pytest.fixture(scope="session")
def two_seed_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storage holding one saved run with two seeds per case: the real fixture runs quick-a
    (seed 0) and quick-b (seed 1) as if saved by one ``--seeds 2`` run
    (``<machine>/0001_two-seeds.json``), so reports of it have spreads and error bars."""
    import copy
    import json

    runs = Path(__file__).parent / "fixtures" / "runs" / "Linux-CPython-3.11-64bit"
    a = json.loads((runs / "0001_quick-a.json").read_text(encoding="utf-8"))
    b = json.loads((runs / "0002_quick-b.json").read_text(encoding="utf-8"))
    merged = copy.deepcopy(a)
    for bench in b["benchmarks"]:
        copied = copy.deepcopy(bench)
        seed = copied["extra_info"]["seed"]
        copied["name"] = bench["name"].replace("-seed0]", f"-seed{seed}]")
        copied["fullname"] = bench["fullname"].replace(bench["name"], copied["name"])
        merged["benchmarks"].append(copied)
    storage = tmp_path_factory.mktemp("two-seeds")
    path = storage / "Linux-CPython-3.11-64bit" / "0001_two-seeds.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(merged), encoding="utf-8")
    return storage


@pytest.fixture(scope="session")
def two_machine_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storage of two saved runs from two machines under two recipe names: quick-a as it was
    saved (``0001_cpu.json``) and quick-b as if saved on a GPU machine under a recipe named
    ``other`` (``0002_gpu.json``)."""
    import json

    runs = Path(__file__).parent / "fixtures" / "runs" / "Linux-CPython-3.11-64bit"
    a = json.loads((runs / "0001_quick-a.json").read_text(encoding="utf-8"))
    b = json.loads((runs / "0002_quick-b.json").read_text(encoding="utf-8"))
    b["machine_info"].setdefault("ff_bench", {})["gpu_name"] = "NVIDIA H100 80GB HBM3"
    for bench in b["benchmarks"]:
        bench["extra_info"]["recipe"]["name"] = "other"
    storage = tmp_path_factory.mktemp("two-machines")
    folder = storage / "Linux-CPython-3.11-64bit"
    folder.mkdir(parents=True)
    (folder / "0001_cpu.json").write_text(json.dumps(a), encoding="utf-8")
    (folder / "0002_gpu.json").write_text(json.dumps(b), encoding="utf-8")
    return storage

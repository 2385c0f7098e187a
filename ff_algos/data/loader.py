"""Loading a dataset as whole-split tensors on a device, for full-batch training.

Order of sources: the decoded cache under the root, else the canonical files under the root
(decoded once, then cached), else a fetch when ``download=True``. Pixels travel to the device as
uint8 (4x less transfer than float32) and are converted and normalised there.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ff_algos.data import cache, catalog, formats, sources
from ff_algos.data.catalog import DatasetInfo
from ff_algos.data.errors import (
    CacheRebuiltWarning,
    ChecksumError,
    CorruptFileError,
    DatasetNotFoundError,
)
from ff_algos.data.files import one_line
from ff_algos.data.formats import RawArrays
from ff_algos.data.paths import resolve_root
from ff_algos.data.progress import NullProgress, Progress


@dataclass(frozen=True, eq=False)  # tensors have no single truth value: identity equality
class Split:
    """One split as device tensors: ``x`` (N, C*H*W) float32 normalised, ``y`` (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor
    rows: torch.Tensor | None = None  # a subset's row indices in the full split (CPU), sorted

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, n: int | None, seed: int) -> Split:
        """``n`` rows drawn at random with ``seed`` (kept in their original order); the whole
        split when ``n`` is None or not smaller than it."""
        if n is None or n >= len(self):
            return self
        generator = torch.Generator().manual_seed(seed)
        rows = torch.randperm(len(self), generator=generator)[:n].sort().values
        on_device = rows.to(self.x.device)
        return Split(self.x[on_device], self.y[on_device], rows)


@dataclass(frozen=True, eq=False)
class LoadedDataset:
    """Both splits of a dataset on one device, and how long loading them took."""

    info: DatasetInfo
    train: Split
    test: Split
    root: Path
    load_seconds: float  # wall time of this load (device synchronised before the clock is read)
    source: str  # "cache" (memory-mapped uint8 cache) or "decoded" (canonical files decoded)
    checked: str | None = None  # "sha256"/"md5": the published files; "unverified"; None: synthetic


def is_present(name: str, root: str | Path | None = None) -> bool:
    """Whether ``name`` can be loaded from ``root`` without fetching: all canonical files exist,
    or a cache that matches its manifest (sizes and headers; crc32 is checked when loading)."""
    key = catalog.canonical_name(name)
    path = resolve_root(root)
    if not formats.missing_files(key, path):
        return True
    try:
        return cache.load(key, path, deep=False) is not None
    except CorruptFileError:
        return False


def not_found_error(name: str, root: Path) -> DatasetNotFoundError:
    """The one-line error for a dataset whose files are not under ``root``."""
    layout = catalog.LAYOUTS[name]
    missing = formats.missing_files(name, root)
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    needs = "" if name in catalog.OFFLINE_SOURCES else " (needs internet)"
    return DatasetNotFoundError(
        f"{name} not found: looked in {formats.dataset_dir(name, root)} and missed "
        f"{missing[0].name}{more}; run `ff-bench data fetch {name} --data-root {root}`{needs} "
        f"or place {layout.hint} in {formats.dataset_dir(name, root)}"
    )


def _arrays(
    name: str,
    root: Path,
    download: bool,
    progress: Progress,
    mmap_mode: cache.MmapMode,
    allow_unverified: bool = False,
) -> tuple[RawArrays, str, str]:
    """The uint8 arrays of ``name``, where they came from ("cache" or "decoded") and how their
    files matched the published digests (``formats.CHECKED`` or ``formats.UNVERIFIED``).

    A cache built from files that were not checked (a variant allowed earlier, or a cache older
    than the check) is used only with ``allow_unverified``; otherwise the files are checked and
    decoded again, and nothing is written unless they match."""
    try:
        cached = cache.load(name, root, mmap_mode=mmap_mode)
    except CorruptFileError as exc:
        warnings.warn(
            CacheRebuiltWarning(f"{exc}; rebuilding the cache from the canonical files"),
            stacklevel=3,
        )
        cached = None
    if cached is not None:
        checked = _cache_checked(name, root)
        if checked in formats.CHECKED or allow_unverified:
            return cached, "cache", checked or formats.UNVERIFIED
        if formats.missing_files(name, root):
            raise ChecksumError(
                f"the cache of {name} in {cache.cache_dir(name, root)} was built from files "
                "that were never checked against the published digests, and the files are not "
                f"in {formats.dataset_dir(name, root)}: run `ff-bench data fetch {name} "
                f"--data-root {root}`, or pass --allow-unverified to use it as your own variant"
            )
    if formats.missing_files(name, root):
        if not download:
            raise not_found_error(name, root)
        sources.fetch_into(name, root, progress)
    arrays, checked = formats.decode(name, root, progress, allow_unverified=allow_unverified)
    progress.update(f"{name}/cache", "caching")
    try:
        cache.write(name, root, arrays, checked)
    except OSError as exc:
        warnings.warn(f"could not write the cache of {name}: {one_line(str(exc))}", stacklevel=3)
    progress.update(f"{name}/cache", "done")
    return arrays, "decoded", checked


def _cache_checked(name: str, root: Path) -> str | None:
    """What the cache's manifest says of its files' digests; MNIST-family caches that predate
    the record count as checked, because their decoder always checked sha256."""
    checked = cache.checked(name, root)
    if checked is None and name in catalog.IDX_SHA256:
        return "sha256"
    return checked


def _to_split(x_u8: np.ndarray, y: np.ndarray, info: DatasetInfo, device: torch.device) -> Split:
    """uint8 (N, C, H, W) to normalised float32 (N, C*H*W) on ``device``; the conversion runs on
    the device, after the uint8 transfer."""
    n = x_u8.shape[0]
    x = torch.from_numpy(np.asarray(x_u8)).to(device)  # (N, C, H, W) uint8
    x = x.reshape(n, info.input_size).to(torch.float32)  # (N, C*H*W), a fresh float copy
    pixels = info.input_size // info.image_shape[0]
    mean = torch.tensor(info.mean, dtype=torch.float32, device=device)
    std = torch.tensor(info.std, dtype=torch.float32, device=device)
    # (x / 255 - mean) / std, per channel, as one multiply and one subtract per element
    scale = (1.0 / (255.0 * std)).repeat_interleave(pixels)  # (C*H*W,)
    shift = (mean / std).repeat_interleave(pixels)  # (C*H*W,)
    x.mul_(scale).sub_(shift)
    labels = torch.from_numpy(np.array(y, dtype=np.int64)).to(device)  # own copy, not the mmap
    return Split(x, labels)


def load_dataset(
    name: str,
    *,
    device: str | torch.device = "cpu",
    root: str | Path | None = None,
    download: bool = False,
    progress: Progress | None = None,
    allow_unverified: bool = False,
) -> LoadedDataset:
    """Load both splits of ``name`` onto ``device``, normalised and flattened.

    Raises :class:`UnknownDatasetError` for a bad name, :class:`DatasetNotFoundError` when the
    files are absent and ``download`` is False, and :class:`ChecksumError` when a file differs
    from its published digest, unless ``allow_unverified`` (the result then says
    ``checked="unverified"``). ``progress`` receives per-file stages (the CLI
    shows them); by default nothing is reported.
    """
    info = catalog.dataset_info(name)
    path = resolve_root(root)
    dev = torch.device(device)
    start = time.perf_counter()
    arrays, source, checked = _arrays(
        info.name, path, download, progress or NullProgress(), "c", allow_unverified
    )
    train = _to_split(arrays.train_x, arrays.train_y, info, dev)
    test = _to_split(arrays.test_x, arrays.test_y, info, dev)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elapsed = time.perf_counter() - start
    return LoadedDataset(info, train, test, path, elapsed, source, checked)


def raw_arrays(
    name: str, root: str | Path | None = None, *, allow_unverified: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """uint8 images (N, C, H, W) and int64 labels (N,) for train and test, read-only and
    memory-mapped from the cache (built first when needed; files checked as for
    :func:`load_dataset`)."""
    key = catalog.canonical_name(name)
    path = resolve_root(root)
    arrays, source, _ = _arrays(key, path, False, NullProgress(), "r", allow_unverified)
    if source == "decoded":  # map the cache just written rather than keep the decoded copy
        arrays = cache.load(key, path, mmap_mode="r", deep=False) or arrays
    return tuple(arrays)  # type: ignore[return-value]


def torchvision_dataset(
    name: str,
    root: str | Path | None,
    *,
    train: bool,
    transform: Callable[[Any], Any] | None = None,
) -> torch.utils.data.Dataset[Any]:
    """torchvision's own dataset class over the same files (never downloads), for a conventional
    ``DataLoader`` pipeline."""
    import torchvision.datasets as tvd

    info = catalog.dataset_info(name)
    path = resolve_root(root)
    if formats.missing_files(info.name, path):
        raise not_found_error(info.name, path)
    cls = getattr(tvd, info.torchvision_name)
    try:
        if info.name == "svhn":
            dataset: torch.utils.data.Dataset[Any] = cls(
                str(path), split="train" if train else "test", transform=transform, download=False
            )
        else:
            dataset = cls(str(path), train=train, transform=transform, download=False)
    except RuntimeError as exc:
        raise CorruptFileError(
            f"torchvision's {info.torchvision_name} rejected the files in "
            f"{formats.dataset_dir(info.name, path)}: {one_line(str(exc))}"
        ) from exc
    return dataset

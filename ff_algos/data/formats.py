"""Decoders from the canonical on-disk formats (idx, CIFAR pickle batches, SVHN .mat) to
uint8 image arrays ``(N, C, H, W)`` and int64 label arrays ``(N,)``."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ff_algos.data import catalog
from ff_algos.data.catalog import DatasetInfo
from ff_algos.data.errors import ChecksumError, CorruptFileError, DataError
from ff_algos.data.files import md5_file, one_line
from ff_algos.data.idx import parse_idx
from ff_algos.data.progress import Progress


class RawArrays(NamedTuple):
    """Undecorated split arrays: images uint8 (N, C, H, W), labels int64 (N,)."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def dataset_dir(name: str, root: Path) -> Path:
    """The folder under ``root`` that holds ``name``'s canonical files."""
    return root / catalog.LAYOUTS[name].folder


def missing_files(name: str, root: Path) -> list[Path]:
    """Canonical files of ``name`` that do not exist under ``root``."""
    folder = dataset_dir(name, root)
    return [folder / f for f in catalog.LAYOUTS[name].files if not (folder / f).is_file()]


CHECKED = ("sha256", "md5")  # how a dataset's files matched their published digests
UNVERIFIED = "unverified"  # some file did not match, and the caller allowed it


class Decoded(NamedTuple):
    """Decoded arrays and how their files were checked: ``"sha256"`` or ``"md5"`` (every file
    matched its published digest) or ``"unverified"`` (a file differs; allowed by the caller)."""

    arrays: RawArrays
    checked: str


class _Digests:
    """Checks files against the catalog's digests: a mismatch raises :class:`ChecksumError`,
    or with ``allow_unverified`` is noted and the files decoded anyway."""

    def __init__(self, info: DatasetInfo, root: Path, allow_unverified: bool) -> None:
        self.info = info
        self.root = root
        self.allow = allow_unverified
        self.mismatched: list[Path] = []

    def check(self, path: Path, kind: str, actual: str, expected: str) -> None:
        if actual == expected:
            return
        if self.allow:
            self.mismatched.append(path)
            return
        name = self.info.name
        raise ChecksumError(
            f"{path}: {kind} {actual}, expected {expected} (the published digest); not the "
            f"canonical {self.info.torchvision_name} file, so nothing was decoded or changed: "
            f"move it away and run `ff-bench data fetch {name} --data-root {self.root}`, or "
            "pass --allow-unverified to benchmark your own variant (recorded as unverified, "
            "never compared with the study like for like)"
        )

    @property
    def checked(self) -> str:
        return UNVERIFIED if self.mismatched else catalog.digest_kind(self.info.name)


def decode(name: str, root: Path, progress: Progress, *, allow_unverified: bool = False) -> Decoded:
    """Decode the canonical files of ``name`` (all must exist) into contiguous arrays, after
    checking every file against its published digest (CIFAR and SVHN before decoding anything;
    idx files as they are read, before anything is returned or cached)."""
    info = catalog.dataset_info(name)
    layout = catalog.LAYOUTS[name]
    folder = dataset_dir(name, root)
    digests = _Digests(info, root, allow_unverified)
    if name in ("mnist", "fashion_mnist"):
        (train_images, train_labels), (test_images, test_labels) = layout.train, layout.test
        train = _decode_idx_pair(info, folder, train_images, train_labels, progress, digests)
        test = _decode_idx_pair(info, folder, test_images, test_labels, progress, digests)
    else:
        _check_published(info, folder, progress, digests)
        if name in ("cifar10", "cifar100"):
            train = _decode_cifar(info, folder, layout.train, progress)
            test = _decode_cifar(info, folder, layout.test, progress)
        else:
            train = _decode_svhn(info, folder / layout.train[0], progress)
            test = _decode_svhn(info, folder / layout.test[0], progress)
    return Decoded(RawArrays(*train, *test), digests.checked)


def _check_published(
    info: DatasetInfo, folder: Path, progress: Progress, digests: _Digests
) -> None:
    """md5 of every file the decoder reads, and of the class-name file when present, against
    the published digests."""
    layout = catalog.LAYOUTS[info.name]
    for fname, expected in catalog.PUBLISHED_MD5[info.name].items():
        path = folder / fname
        if fname in layout.extra and not path.is_file():
            continue  # not decoded; torchvision's class needs it, ff-bench does not
        progress.update(_item(info, path), "verifying")
        digests.check(path, "md5", md5_file(path), expected)


def _item(info: DatasetInfo, path: Path) -> str:
    return f"{info.name}/{path.name}"


def _check_labels(info: DatasetInfo, y: np.ndarray, n: int, path: Path) -> np.ndarray:
    """Labels as int64 ``(n,)`` in ``[0, num_classes)``, else :class:`CorruptFileError`."""
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if len(y) != n:
        raise CorruptFileError(f"{path}: {len(y)} labels for {n} images; fetch the file again")
    if n and (y.min() < 0 or y.max() >= info.num_classes):
        raise CorruptFileError(
            f"{path}: labels span {y.min()}..{y.max()}, expected 0..{info.num_classes - 1}"
        )
    return y


def _read_verified_idx(
    info: DatasetInfo, path: Path, progress: Progress, digests: _Digests
) -> np.ndarray:
    """Parse an idx file, then check its sha256 against the catalog (when it lists one)."""
    progress.update(_item(info, path), "decoding")
    data = bytearray(path.stat().st_size)  # writable, so torch can share it without a copy
    with path.open("rb") as f:
        f.readinto(data)
    array = parse_idx(data, path)
    expected = catalog.IDX_SHA256.get(info.name, {}).get(path.name)
    if expected is not None:
        progress.update(_item(info, path), "verifying")
        digests.check(path, "sha256", hashlib.sha256(data).hexdigest(), expected)
    progress.update(_item(info, path), "decoded")
    return array


def _decode_idx_pair(
    info: DatasetInfo,
    folder: Path,
    images: str,
    labels: str,
    progress: Progress,
    digests: _Digests,
) -> tuple[np.ndarray, np.ndarray]:
    ipath, lpath = folder / images, folder / labels
    x = _read_verified_idx(info, ipath, progress, digests)
    _, h, w = info.image_shape
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (h, w):
        raise CorruptFileError(
            f"{ipath}: expected uint8 images of shape (N, {h}, {w}), got {x.dtype} {x.shape}"
        )
    y = _read_verified_idx(info, lpath, progress, digests)
    if y.ndim != 1:
        raise CorruptFileError(f"{lpath}: expected a 1-d label file, got shape {y.shape}")
    y = _check_labels(info, y, len(x), lpath)
    return np.ascontiguousarray(x[:, None, :, :]), y  # (N, H, W) -> (N, 1, H, W)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dicts and lists only: a CIFAR batch needs nothing else, and a
    pickle that asks for anything else is refused instead of run."""

    _ALLOWED = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy._core.numeric", "_frombuffer"),
            ("_codecs", "encode"),  # bytes inside protocol-2 pickles written by Python 3
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        # Files pickled before numpy 2 name numpy.core; numpy 2 keeps it as numpy._core.
        if module.startswith("numpy.core"):
            module = "numpy._core" + module.removeprefix("numpy.core")
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _load_batch(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            obj = _BatchUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise CorruptFileError(f"{path} is not a CIFAR python batch: {one_line(str(exc))}") from exc
    if not isinstance(obj, dict):
        raise CorruptFileError(f"{path} is not a CIFAR python batch: holds a {type(obj).__name__}")
    return obj


def _decode_cifar(
    info: DatasetInfo, folder: Path, files: tuple[str, ...], progress: Progress
) -> tuple[np.ndarray, np.ndarray]:
    key = "labels" if info.name == "cifar10" else "fine_labels"
    xs, ys = [], []
    for fname in files:
        path = folder / fname
        progress.update(_item(info, path), "decoding")
        batch = _load_batch(path)
        if "data" not in batch or key not in batch:
            raise CorruptFileError(
                f"{path}: CIFAR batch lacks 'data' or {key!r} (has {sorted(batch)})"
            )
        data = np.asarray(batch["data"])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != info.input_size:
            raise CorruptFileError(
                f"{path}: 'data' should be uint8 (N, {info.input_size}), "
                f"got {data.dtype} {data.shape}"
            )
        xs.append(data.reshape(-1, *info.image_shape))  # rows are channel-first: (N, 3, 32, 32)
        ys.append(_check_labels(info, np.asarray(batch[key]), len(data), path))
        progress.update(_item(info, path), "decoded")
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def _decode_svhn(
    info: DatasetInfo, path: Path, progress: Progress
) -> tuple[np.ndarray, np.ndarray]:
    try:
        import scipy.io
    except ImportError as exc:
        raise DataError(
            f"reading {path} needs scipy (SVHN ships .mat files): pip install scipy"
        ) from exc
    progress.update(_item(info, path), "decoding")
    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError, KeyError, scipy.io.matlab.MatReadError) as exc:
        raise CorruptFileError(
            f"{path} is not a readable SVHN .mat file: {one_line(str(exc))}"
        ) from exc
    x, y = mat.get("X"), mat.get("y")
    c, h, w = info.image_shape
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.shape[:3] != (h, w, c):
        got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else "nothing"
        raise CorruptFileError(f"{path}: 'X' should be uint8 ({h}, {w}, {c}, N), got {got}")
    if not isinstance(y, np.ndarray):
        raise CorruptFileError(f"{path}: no 'y' label array")
    images = np.ascontiguousarray(x.transpose(3, 2, 0, 1))  # (H, W, C, N) -> (N, C, H, W)
    labels = np.asarray(y).reshape(-1).astype(np.int64)
    labels[labels == 10] = 0  # SVHN stores the digit 0 as class 10
    labels = _check_labels(info, labels, len(images), path)
    progress.update(_item(info, path), "decoded")
    return images, labels

"""The decoded uint8 cache: ``ROOT/ff-bench-cache/<name>/{train,test}_{x,y}.npy`` plus
``manifest.json`` with each array's shape, dtype, file size and crc32 of its data, and how the
canonical files it was decoded from matched their published digests.

Loading memory-maps the arrays and checks them against the manifest: file size and ``.npy``
header always, crc32 of the data when ``deep`` (about 3 GB/s, so ~20 ms for MNIST; the pages it
reads are the ones the loader reads next). Anything that does not match raises
:class:`CorruptFileError`; the loader then rebuilds the cache from the canonical files.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ff_algos.atomic_file import atomic_write
from ff_algos.data.errors import CorruptFileError
from ff_algos.data.files import one_line
from ff_algos.data.formats import RawArrays

CACHE_FOLDER = "ff-bench-cache"
FORMAT = "ff-bench-cache/1"
MANIFEST = "manifest.json"
MmapMode = Literal["r", "c"]


def cache_dir(name: str, root: Path) -> Path:
    """Folder of ``name``'s cache under ``root``."""
    return root / CACHE_FOLDER / name


def _crc32(array: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(array).data.cast("B"))


def write(name: str, root: Path, arrays: RawArrays, checked: str | None = None) -> None:
    """Write the arrays, then the manifest, each atomically (manifest last, so a reader never
    sees a manifest that describes arrays not yet written). ``checked`` is how the canonical
    files matched their published digests (``formats.decode``), kept in the manifest."""
    folder = cache_dir(name, root)
    entries: dict[str, Any] = {}
    for field, array in arrays._asdict().items():
        path = folder / f"{field}.npy"
        with atomic_write(path) as f:
            np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        entries[field] = {
            "file": path.name,
            "shape": list(array.shape),
            "dtype": array.dtype.str,
            "bytes": path.stat().st_size,
            "crc32": _crc32(array),
        }
    manifest = {"format": FORMAT, "dataset": name, "arrays": entries, "checked": checked}
    with atomic_write(folder / MANIFEST) as f:
        f.write(json.dumps(manifest, indent=1).encode())


def load(
    name: str, root: Path, *, mmap_mode: MmapMode = "r", deep: bool = True
) -> RawArrays | None:
    """Memory-map ``name``'s cache; ``None`` if there is none, :class:`CorruptFileError` if it
    does not match its manifest."""
    folder = cache_dir(name, root)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        entries = manifest["arrays"]
        ok = manifest["format"] == FORMAT and manifest["dataset"] == name
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{manifest_path} is unreadable: {one_line(str(exc))}") from exc
    if not ok or set(entries) != set(RawArrays._fields):
        raise CorruptFileError(f"{manifest_path} does not describe a {FORMAT} cache of {name}")
    return RawArrays(**{f: _open(folder, entries[f], mmap_mode, deep) for f in RawArrays._fields})


def checked(name: str, root: Path) -> str | None:
    """How the files the cache was built from matched their published digests (``"sha256"``,
    ``"md5"``, ``"unverified"``); None when the manifest does not say (caches written before
    it was recorded) or is unreadable."""
    try:
        manifest = json.loads((cache_dir(name, root) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    value = manifest.get("checked") if isinstance(manifest, dict) else None
    return value if isinstance(value, str) else None


def _open(folder: Path, entry: dict[str, Any], mmap_mode: MmapMode, deep: bool) -> np.ndarray:
    path = folder / str(entry["file"])
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise CorruptFileError(f"{path} is missing from the cache") from exc
    if size != entry["bytes"]:
        raise CorruptFileError(f"{path} has {size} bytes, the manifest says {entry['bytes']}")
    try:
        array: np.ndarray = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CorruptFileError(f"{path} is not a readable .npy file: {one_line(str(exc))}") from exc
    if list(array.shape) != entry["shape"] or array.dtype.str != entry["dtype"]:
        raise CorruptFileError(
            f"{path} holds {array.dtype.str} {list(array.shape)}, "
            f"the manifest says {entry['dtype']} {entry['shape']}"
        )
    if deep and (crc := _crc32(array)) != entry["crc32"]:
        raise CorruptFileError(f"{path}: crc32 {crc}, the manifest says {entry['crc32']}")
    return array


def state(name: str, root: Path) -> str:
    """``"valid"``, ``"absent"`` or ``"invalid: <reason>"`` (full check, for listings)."""
    try:
        arrays = load(name, root)
    except CorruptFileError as exc:
        return f"invalid: {exc}"
    return "absent" if arrays is None else "valid"

"""Reader for the idx format of MNIST and FashionMNIST (LeCun's format, big-endian).

Layout: two zero bytes, a type code, the number of dimensions ``ndim``, then ``ndim`` big-endian
uint32 sizes, then the data in C order. Every structural problem is a :class:`CorruptFileError`
naming the file and what was wrong.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ff_algos.data.errors import CorruptFileError

_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def parse_idx(data: bytes | bytearray, path: Path) -> np.ndarray:
    """Decode the bytes of an idx file (``path`` is only used in messages); the array shares
    ``data``'s memory."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES or data[3] == 0:
        raise CorruptFileError(
            f"{path} is not an idx file: magic bytes {data[:4].hex() or '(empty)'}, expected "
            "00 00, a type code (08 for uint8) and a dimension count; fetch the file again"
        )
    dtype = np.dtype(_TYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptFileError(
            f"{path} is truncated: {len(data)} bytes, shorter than its {header}-byte idx header"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "too long"
        raise CorruptFileError(
            f"{path} is {what}: header says shape {'x'.join(map(str, shape))} "
            f"({expected} bytes), the file has {len(data)} bytes; fetch the file again"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def read_idx(path: Path) -> np.ndarray:
    """Read a whole idx file into a (read-only) array."""
    return parse_idx(path.read_bytes(), path)

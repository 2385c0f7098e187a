"""The idx reader: round trip, and every structural fault named in its message."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ff_algos.data import CorruptFileError
from ff_algos.data.idx import parse_idx, read_idx

IdxWriter = Callable[[Path, np.ndarray], str]


def test_round_trip_uint8(tmp_path: Path, write_idx: IdxWriter) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x", images)
    out = read_idx(tmp_path / "x")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


def test_big_endian_int32(tmp_path: Path) -> None:
    values = np.array([1, -2, 70000], dtype=">i4")
    data = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + values.tobytes()
    np.testing.assert_array_equal(parse_idx(data, tmp_path / "x"), [1, -2, 70000])


def test_truncated_data_is_named(tmp_path: Path, write_idx: IdxWriter) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros((5, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptFileError, match=r"train-images-idx3-ubyte is truncated: .*5x28x28"):
        read_idx(path)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(bytes([0, 0, 0x08, 3, 0, 0]))
    with pytest.raises(CorruptFileError, match=r"labels is truncated: 6 bytes, shorter than"):
        read_idx(path)


def test_trailing_bytes(tmp_path: Path, write_idx: IdxWriter) -> None:
    path = tmp_path / "labels"
    write_idx(path, np.zeros(4, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(CorruptFileError, match="labels is too long"):
        read_idx(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"\x1f\x8b\x08\x00gzip data", b"<html>not found</html>", bytes([0, 0, 0x42, 1, 0, 0])],
)
def test_bad_magic(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(CorruptFileError, match=r"t10k-images-idx3-ubyte is not an idx file"):
        read_idx(path)

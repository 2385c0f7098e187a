"""File hashing, and one-line error text for data and telemetry (atomic writes: atomic_file)."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def md5_file(path: Path) -> str:
    """Hex md5 of a file, read in chunks (the digest CIFAR and SVHN were published with)."""
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def one_line(text: str) -> str:
    """Collapse whitespace so a nested error message fits on one line."""
    return " ".join(str(text).split())


def describe(error: BaseException) -> str:
    """A one-line description of ``error``: its type and message."""
    text = one_line(str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

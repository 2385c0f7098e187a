"""File hashing and one-line error text for the data layer (atomic writes: ff_algos.atomic_file)."""

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


def one_line(text: str) -> str:
    """Collapse whitespace so a nested error message fits on one line."""
    return " ".join(str(text).split())

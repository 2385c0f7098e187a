"""The results journal: every finished case, appended as one JSON line the moment it ends.

A sweep that is interrupted or crashes keeps every case that completed. Each record is written
with a single ``write`` on a file opened in append mode and flushed to disk, so records are never
interleaved or half-written by a later crash; existing lines are never rewritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to the journal at ``path`` (created if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every complete record in the journal; a torn last line (a crash mid-write) is skipped."""
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records

"""The report folder: when it may be written, and writing it without losing anything.

Rule: a report is written into a folder that

* does not exist yet, or is empty; or
* holds the report of the *same* saved runs (its ``summary.json`` names the same files by their
  sha256): the report is regenerated in place; or
* holds nothing but copies of the saved runs being reported.

Any other folder is refused with a one-line message, unless ``--force`` is given; then the
report's own files (``report.md``, ``report.html``, ``summary.json``, the figures) are replaced
and other files are left alone. A saved run copied into ``runs/`` is never replaced by different
content, even with ``--force``. Every file is written to a temporary file in the same folder, then
renamed over the old one, so an interrupted report never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from ff_algos.atomic_file import atomic_write
from ff_algos.report.errors import OutputFolderError
from ff_algos.report.summary import source_digests

RUNS_FOLDER = "runs"
DEFAULT_ROOT = Path("reports")


def default_folder(names: Iterable[str]) -> Path:
    """``reports/<name>`` for one run, ``reports/<name>+<name>`` for several."""
    joined = "+".join(dict.fromkeys(names))
    return DEFAULT_ROOT / (re.sub(r"[^A-Za-z0-9._+-]", "_", joined) or "report")


def check_folder(folder: Path, digests: set[str], force: bool) -> None:
    """Raise :class:`OutputFolderError` unless the module's rule allows writing the report of
    the runs with these sha256 ``digests`` into ``folder``."""
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"--out {folder} is a file; pass a folder")
    if not folder.exists() or force:
        return
    files = [p for p in folder.rglob("*") if p.is_file()]
    if not files:
        return
    previous = _previous_digests(folder / "summary.json")
    if previous is not None and previous == digests:
        return
    if all(_digest(p) in digests for p in files):
        return
    what = "the report of other runs" if previous is not None else "other files"
    raise OutputFolderError(
        f"{folder} already holds {what}; choose another folder with --out DIR, "
        "or pass --force to replace its report files"
    )


def check_run_copies(folder: Path, copies: dict[Path, bytes]) -> None:
    """Refuse to replace a saved run already in the folder by different content."""
    for relative, data in copies.items():
        target = folder / relative
        if target.is_file() and target.read_bytes() != data:
            raise OutputFolderError(
                f"{target} is a different saved run than the one being reported; "
                "it is never replaced: choose another folder with --out DIR"
            )


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    with atomic_write(path) as fh:
        fh.write(data)


def remove_stale(folder: Path, old: Iterable[str], keep: Iterable[str]) -> None:
    """Delete figures an earlier report of this folder wrote that this report does not."""
    kept = set(keep)
    for name in old:
        if name not in kept and Path(name).name == name and name.endswith(".png"):
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()


def previous_figures(folder: Path) -> list[str]:
    """Figure file names listed by the folder's existing ``summary.json`` (none if absent)."""
    try:
        data = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    figures = data.get("figures") if isinstance(data, dict) else None
    return [str(f) for f in figures] if isinstance(figures, list) else []


def _previous_digests(path: Path) -> set[str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return source_digests(data) if isinstance(data, dict) else None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

"""Saving a session's run without ever leaving a partial file, and a one-line error when the
storage cannot take it (a full disk, a read-only folder).

pytest-benchmark writes ``--benchmark-save`` and ``--benchmark-json`` files in place, so a write
that fails half way (``ENOSPC``) leaves a truncated JSON file that later reports choke on, and the
session ends in a traceback. :func:`guard_saving` replaces those two writes on the plugin's
session object with atomic ones (:func:`~ff_algos.atomic_file.atomic_write`: temporary file,
fsync, rename) and turns an ``OSError`` into :attr:`SaveGuard.failures`, one line each naming the
file, the storage and the journal, which holds every finished case regardless.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ff_algos.atomic_file import atomic_write


@dataclass
class SaveGuard:
    """The wrapped writes of one session, and the one-line failures they met."""

    journal: Path
    failures: list[str] = field(default_factory=list)

    def write(self, path: Path, data: dict[str, Any], what: str, where: str, option: str) -> bool:
        """Write ``data`` as pytest-benchmark would, atomically; False (and a failure line)
        when the file system refuses it. Nothing is left under ``path`` on failure."""
        from pytest_benchmark.utils import safe_dumps

        blob = safe_dumps(data, ensure_ascii=True, indent=4).encode()  # type: ignore[no-untyped-call]
        try:
            with atomic_write(path) as fh:
                fh.write(blob)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            code = f"[Errno {exc.errno}] " if exc.errno else ""
            self.failures.append(
                f"ff-bench: could not save the {what} {path} ({code}{reason}) in {where}; "
                f"nothing partial was left there; every finished case is in the journal "
                f"{os.path.abspath(self.journal)}: free space (or choose another {option}) "
                "and run again"
            )
            return False
        return True


def guard_saving(benchmark_session: Any, journal: Path) -> SaveGuard:
    """Make pytest-benchmark's session save its run file (file storage) and its
    ``--benchmark-json`` file atomically, recording failures instead of raising."""
    guard = SaveGuard(journal)
    storage = getattr(benchmark_session, "storage", None)
    if storage is not None and hasattr(storage, "_next_num") and hasattr(storage, "get"):

        def save(output_json: dict[str, Any], save: str) -> None:
            path = Path(storage.get(f"{storage._next_num}_{save}.json"))
            if guard.write(
                path, output_json, "run", f"the storage {storage.path}", "--benchmark-storage"
            ):
                storage.logger.info(f"Saved benchmark data in: {path}")

        storage.save = save

    def save_json(output_json: dict[str, Any]) -> None:
        path = Path(benchmark_session.json)
        if guard.write(
            path, output_json, "--benchmark-json file", f"the folder {path.parent}", "path"
        ):
            benchmark_session.logger.info(f"Wrote benchmark data in: {path}", purple=True)

    if getattr(benchmark_session, "json", None):
        benchmark_session.save_json = save_json
    return guard

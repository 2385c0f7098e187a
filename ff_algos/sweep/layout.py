"""Where a sweep keeps its files, one folder per sweep:

    SWEEP/sweep.json             what was asked: options, shard count, each shard's cases, command
    SWEEP/submissions.jsonl      one line per submission (launcher, job id, shards), appended
    SWEEP/submit-S.sh            the job script of submission S (an ``sbatch --array`` script)
    SWEEP/shard-K/storage/       the shard's pytest-benchmark storage (its own: runs are numbered
                                 by looking, then writing, so shards must not share one)
    SWEEP/shard-K/journal.jsonl  the shard's journal of finished cases
    SWEEP/shard-K/S.log, S.exit  log and exit status of submission S of shard K

Nothing here is rewritten: a resubmission adds a submission number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ff_algos.atomic_file import atomic_write
from ff_algos.suite.journal import append_record, read_journal
from ff_algos.sweep.errors import SweepError

MANIFEST = "sweep.json"
SUBMISSIONS = "submissions.jsonl"


@dataclass(frozen=True)
class SweepDir:
    """The files of one sweep."""

    root: Path

    @property
    def manifest(self) -> Path:
        """``sweep.json``."""
        return self.root / MANIFEST

    def shard(self, k: int) -> Path:
        """The folder of shard ``k``."""
        return self.root / f"shard-{k}"

    def storage(self, k: int) -> Path:
        """Shard ``k``'s pytest-benchmark storage folder."""
        return self.shard(k) / "storage"

    def journal(self, k: int) -> Path:
        """Shard ``k``'s journal."""
        return self.shard(k) / "journal.jsonl"

    def log(self, k: int, submission: int) -> Path:
        """Shard ``k``'s log of submission ``submission``."""
        return self.shard(k) / f"{submission}.log"

    def exit_file(self, k: int, submission: int) -> Path:
        """Shard ``k``'s exit status of submission ``submission`` (written when pytest ends)."""
        return self.shard(k) / f"{submission}.exit"

    def script(self, submission: int) -> Path:
        """The job script of submission ``submission``."""
        return self.root / f"submit-{submission}.sh"

    def read_manifest(self) -> dict[str, Any]:
        """``sweep.json``; a folder without one is a :class:`SweepError`."""
        try:
            data: dict[str, Any] = json.loads(self.manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SweepError(
                f"{self.root} holds no sweep ({MANIFEST} is missing); start one with ff-bench sweep"
            ) from None
        return data

    def write_manifest(self, data: dict[str, Any]) -> None:
        """Write ``sweep.json`` once; a folder that already holds a sweep is refused."""
        if self.manifest.exists():
            raise SweepError(
                f"{self.root} already holds a sweep; pass --resume {self.root} to go on with it, "
                "or choose another --out"
            )
        with atomic_write(self.manifest) as fh:
            fh.write((json.dumps(data, indent=2) + "\n").encode())

    def submissions(self) -> list[dict[str, Any]]:
        """Every submission so far, oldest first."""
        path = self.root / SUBMISSIONS
        return read_journal(path) if path.exists() else []

    def add_submission(self, record: dict[str, Any]) -> None:
        """Append one submission."""
        append_record(self.root / SUBMISSIONS, record)

    def latest(self) -> dict[int, int]:
        """Each submitted shard's latest submission number."""
        return {int(k): int(s["number"]) for s in self.submissions() for k in s["shards"]}

    def exit_status(self, k: int, submission: int) -> int | None:
        """The exit status shard ``k`` wrote for ``submission``; None while it has not ended."""
        try:
            return int(self.exit_file(k, submission).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def runs(self, k: int) -> list[Path]:
        """Shard ``k``'s saved runs, in the order they were saved."""
        return sorted(self.storage(k).glob("*/*.json"), key=lambda p: (p.name, str(p.parent)))

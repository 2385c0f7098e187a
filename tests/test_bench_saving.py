"""A session whose storage is full: one line naming the storage and the journal, no partial run
file, the journal intact; and a report that skips a partly written latest run."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from ff_algos.report.build import make_report
from ff_algos.report.errors import BadRunError
from ff_algos.report.runs import find_runs, load_run
from ff_algos.suite.journal import read_journal

BENCH = Path(__file__).resolve().parents[1] / "bench"
FIXTURE_RUNS = Path(__file__).parent / "fixtures" / "runs"

pytest_plugins = ["pytester"]

# without root (no tmpfs), the storage's writes fail as a full disk's do, half way through
_ENOSPC_PATCH = """

import contextlib as _contextlib
import errno as _errno
import ff_algos.suite.saving as _saving

_real_atomic_write = _saving.atomic_write


@_contextlib.contextmanager
def _full_disk(path):
    with _real_atomic_write(path) as fh:
        fh.write(b'{"half": ')
        raise OSError(_errno.ENOSPC, "No space left on device")
        yield fh


_saving.atomic_write = _full_disk
"""


@dataclass(frozen=True)
class FullDisk:
    """A folder on a full file system, and conftest text that makes it so when none could be
    mounted."""

    folder: Path
    conftest_patch: str


def _fill(path: Path) -> None:
    """Write zeros to ``path`` until the file system is full."""
    with path.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[FullDisk]:
    """A 64 KiB tmpfs filled to the last byte (root), else a folder whose writes are patched."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = (
        shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        if mounted:
            _fill(folder / "filler")
        yield FullDisk(folder, "" if mounted else _ENOSPC_PATCH)
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=False)


def test_a_full_storage_fails_in_one_line_and_leaves_no_partial_file(
    pytester: pytest.Pytester, real_data_root: Callable[[str], Path], full_disk: FullDisk
) -> None:
    for name in ("test_bench.py", "floors.toml"):
        shutil.copy(BENCH / name, pytester.path / name)
    pytester.makeconftest((BENCH / "conftest.py").read_text() + full_disk.conftest_patch)
    storage = full_disk.folder / "storage"
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--recipe=tiny",
        "--datasets=mnist",
        "--methods=bp",
        f"--data-root={real_data_root('mnist')}",
        "--journal=journal.jsonl",
        f"--benchmark-storage=file://{storage}",
        "--benchmark-save=full",
        f"--benchmark-json={full_disk.folder / 'out.json'}",
    )
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "Traceback" not in output
    result.stdout.fnmatch_lines(
        [
            f"ff-bench: could not save the run {storage}/*/0001_full.json ([[]Errno 28[]] No space "
            f"left on device) in the storage {storage}; nothing partial was left there; every "
            f"finished case is in the journal {pytester.path}/journal.jsonl: free space (or "
            "choose another --benchmark-storage) and run again"
        ]
    )
    result.stdout.fnmatch_lines(["ff-bench: could not save the --benchmark-json file *out.json*"])
    left = [p for p in full_disk.folder.rglob("*") if p.is_file() and p.name != "filler"]
    assert left == []
    assert [r["status"] for r in read_journal(pytester.path / "journal.jsonl")] == ["no_floor"]


def test_report_and_compare_skip_or_name_a_partly_written_run(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    shutil.copytree(FIXTURE_RUNS, storage)
    machine = next(storage.iterdir())
    whole = (machine / "0002_quick-b.json").read_bytes()
    partial = machine / "0003_quick-b.json"
    partial.write_bytes(whole[: len(whole) // 2])  # what a full disk left before this fix
    found = find_runs([], storage)
    assert [r.stem for r in found.refs] == ["0002_quick-b"]
    assert any("0003_quick-b.json" in note and "skipped" in note for note in found.notes)
    # a name that matches it too picks the latest readable run and says so
    named = find_runs(["quick-b"], storage)
    assert [r.stem for r in named.refs] == ["0002_quick-b"]
    assert any("0003_quick-b.json" in note for note in named.notes)
    result = make_report([], storage, tmp_path / "out", figures=False, console=Console(quiet=True))
    assert "0003_quick-b.json" in (tmp_path / "out" / "report.md").read_text()
    assert result is not None
    # named by number, it is refused in one line that names the file
    (ref,) = find_runs(["3"], storage).refs
    with pytest.raises(BadRunError, match=r"0003_quick-b.json is not a saved pytest-benchmark run"):
        load_run(ref)
    compare = subprocess.run(
        [sys.executable, "-m", "ff_algos", "compare", "1", "3", "--storage", str(storage)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert compare.returncode != 0
    assert "0003_quick-b.json is not a saved pytest-benchmark run" in compare.stderr
    assert "Traceback" not in compare.stderr

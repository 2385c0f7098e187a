"""The report folder rule (never overwrite another report silently) and atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ff_algos.report.errors import OutputFolderError
from ff_algos.report.output import (
    check_folder,
    check_run_copies,
    default_folder,
    remove_stale,
    write_atomic,
)


def summary(folder: Path, digests: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    runs = [{"sha256": d} for d in digests]
    (folder / "summary.json").write_text(json.dumps({"runs": runs}), encoding="utf-8")


def test_missing_or_empty_folder_is_fine(tmp_path: Path) -> None:
    check_folder(tmp_path / "new", {"a"}, force=False)
    (tmp_path / "empty").mkdir()
    check_folder(tmp_path / "empty", {"a"}, force=False)


def test_same_report_is_regenerated(tmp_path: Path) -> None:
    summary(tmp_path / "r", ["a", "b"])
    (tmp_path / "r" / "report.md").write_text("old", encoding="utf-8")
    check_folder(tmp_path / "r", {"a", "b"}, force=False)


def test_report_of_other_runs_is_refused_unless_forced(tmp_path: Path) -> None:
    summary(tmp_path / "r", ["a"])
    with pytest.raises(OutputFolderError) as info:
        check_folder(tmp_path / "r", {"a", "b"}, force=False)
    message = str(info.value)
    assert "other runs" in message
    assert "--out" in message
    assert "--force" in message
    assert "\n" not in message
    check_folder(tmp_path / "r", {"a", "b"}, force=True)


def test_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputFolderError, match="other files"):
        check_folder(tmp_path / "r", {"a"}, force=False)


def test_folder_holding_only_the_runs_themselves_is_fine(tmp_path: Path) -> None:
    run = tmp_path / "r" / "runs" / "m" / "0001_x.json"
    run.parent.mkdir(parents=True)
    run.write_bytes(b"{}")
    check_folder(tmp_path / "r", {hashlib.sha256(b"{}").hexdigest()}, force=False)


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x", encoding="utf-8")
    with pytest.raises(OutputFolderError, match="is a file"):
        check_folder(tmp_path / "f", set(), force=True)


def test_a_different_saved_run_is_never_replaced(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "m" / "0001_x.json"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"saved")
    check_run_copies(tmp_path, {Path("runs/m/0001_x.json"): b"saved"})
    with pytest.raises(OutputFolderError, match="never replaced"):
        check_run_copies(tmp_path, {Path("runs/m/0001_x.json"): b"other"})


def test_write_atomic_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.md"
    write_atomic(path, b"one")
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["report.md"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_default_folder_names() -> None:
    assert default_folder(["quick-a"]) == Path("reports/quick-a")
    assert default_folder(["a", "b", "a"]) == Path("reports/a+b")
    assert default_folder(["we ird/name"]) == Path("reports/we_ird_name")


def test_remove_stale_figures_only(tmp_path: Path) -> None:
    for name in ("accuracy.png", "time_end_to_end.png", "report.md"):
        (tmp_path / name).write_bytes(b"x")
    remove_stale(
        tmp_path, ["accuracy.png", "time_end_to_end.png", "report.md", "../x.png"], ["accuracy.png"]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accuracy.png", "report.md"]

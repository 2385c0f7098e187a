"""A saved run names the commit its session started from (ours and pytest-benchmark's
``commit_info``), even when HEAD moves while it trains: a run of hours must not be credited to
a commit made during it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ff_algos.telemetry import git_state, machine_info
from tests.git_repo import commit_file

BENCH = Path(__file__).resolve().parents[1] / "bench"
MOVED = "f" * 40

pytest_plugins = ["pytester"]

# after the session has started, every later read of HEAD answers a commit made meanwhile
_HEAD_MOVES = f'''

_start_session = pytest_configure


def pytest_configure(config):
    _start_session(config)
    import ff_algos.telemetry.machine as _machine
    import pytest_benchmark.plugin as _plugin

    _real_git = _machine._git

    def _moved_git(args, repo):
        return "{MOVED}\\n" if args[0] == "rev-parse" else _real_git(args, repo)

    _machine._git = _moved_git
    _plugin.get_commit_info = lambda project_name=None: {{"id": "{MOVED}", "dirty": False}}
'''


def test_machine_info_records_the_state_it_is_given(tmp_path: Path) -> None:
    first = commit_file(tmp_path, "x = 1\n")
    started = git_state(tmp_path)
    assert started.commit == first
    assert started.dirty is False
    later = commit_file(tmp_path, "x = 2\n")
    assert machine_info(repo=tmp_path)["git_commit"] == later
    assert machine_info(repo=tmp_path, git=started)["git_commit"] == first


def test_a_saved_run_names_the_commit_its_session_started_from(
    pytester: pytest.Pytester, real_data_root: Callable[[str], Path]
) -> None:
    for name in ("test_bench.py", "floors.toml"):
        shutil.copy(BENCH / name, pytester.path / name)
    pytester.makeconftest((BENCH / "conftest.py").read_text() + _HEAD_MOVES)
    storage = pytester.path / "storage"
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--recipe=tiny",
        "--datasets=mnist",
        "--methods=bp",
        "-k",
        "test_fit",
        f"--data-root={real_data_root('mnist')}",
        f"--benchmark-storage=file://{storage}",
        "--benchmark-save=provenance",
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-2000:]
    (saved,) = storage.glob("*/0001_provenance.json")
    run = json.loads(saved.read_text())
    assert run["commit_info"].get("id") != MOVED
    assert run["machine_info"]["ff_bench"]["git_commit"] != MOVED
    assert run["machine_info"]["ff_bench"]["git_commit"] == git_state().commit

"""``ff-bench sweep`` on the command line, without running a shard: bad numbers are usage errors
before anything starts, the help shows defaults only where they help, and a started sweep hands
its suite options to every shard's pytest."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ff_algos.cli import main
from ff_algos.suite.flags import SUITE_FLAGS
from ff_algos.sweep import launch

BENCH = Path(__file__).resolve().parents[1] / "bench"
CASES = ["--recipe=tiny", "--datasets=mnist", "--methods=ff", "--device=cpu", f"--bench={BENCH}"]


def _sweep(tmp_path: Path, *args: str) -> list[str]:
    out = tmp_path / "sweep"
    return ["sweep", *CASES, f"--out={out}", f"--storage={tmp_path / 'store'}", *args]


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Manifests handed to the launcher; nothing is launched (a SLURM job id is faked)."""
    seen: list[dict[str, Any]] = []

    def submit(sweep: Any, manifest: dict[str, Any], shards: list[int], *_: Any) -> Any:
        seen.append(manifest)
        return launch.Launched(1, list(shards), job="1")

    monkeypatch.setattr(launch, "submit", submit)
    return seen


@pytest.mark.parametrize(
    "option",
    ["--shards", "--workers", "--threads", "--max-running", "--cpus-per-task", "--gpus-per-task"],
)
@pytest.mark.parametrize("value", ["0", "-1", "2.5", "x"])
def test_bad_counts_are_one_line_usage_errors_before_anything_starts(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    submitted: list[dict[str, Any]],
    option: str,
    value: str,
) -> None:
    status = main(_sweep(tmp_path, f"{option}={value}", "--no-wait"))
    err = capsys.readouterr().err
    assert status == 2
    assert err == (
        f"ff-bench: error: argument {option}: expected a whole number of at least 1, not "
        f"'{value}' (see ff-bench sweep --help)\n"
    )
    assert not (tmp_path / "sweep").exists()
    assert not submitted


@pytest.mark.parametrize("value", ["0", "-2", "nan", "inf", "soon"])
def test_a_bad_poll_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert main(_sweep(tmp_path, f"--poll={value}")) == 2
    assert "argument --poll: expected a number of seconds above 0" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--val-size=lots"], "--val-size 'lots': expected a whole number of 0 or more"),
        (["--curve-points=-1"], "--curve-points '-1': expected a whole number of 0 or more"),
        (["--set=train_size=60001"], "--set: train_size=60001 but mnist has 60000 training rows"),
        (["--val-size=60000"], "--val-size 60000: mnist has 60000 training rows"),
    ],
)
def test_every_suite_option_is_checked_before_the_sweep_starts(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    submitted: list[dict[str, Any]],
    args: list[str],
    message: str,
) -> None:
    assert main(_sweep(tmp_path, *args, "--no-wait")) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()
    assert not submitted


def test_a_started_sweep_passes_its_suite_options_to_each_shard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], submitted: list[dict[str, Any]]
) -> None:
    extra = ["--seeds=2", "--set=epochs=2", "--grid=threshold=1/2", "--curve-points=2",
             "--val-size=100", "--rounds=1", "--shards=3", "--no-wait"]  # fmt: skip
    assert main(_sweep(tmp_path, *extra)) == 0, capsys.readouterr().err
    (manifest,) = submitted
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert saved["shards"] == 3
    args = saved["pytest_args"]
    assert args == manifest["pytest_args"]
    for part in ("--recipe=tiny", "--datasets=mnist", "--methods=ff", "--device=cpu",
                 "--seeds=2", "--set=epochs=2", "--grid=threshold=1/2", "--curve-points=2",
                 "--val-size=100", "--rounds=1"):  # fmt: skip
        assert part in args
    assert not any(a.startswith(("--journal", "--shard", "--yes")) for a in args)


def _option_help(text: str) -> dict[str, str]:
    """Each option's help text in ``--help`` output, joined onto one line."""
    found: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        head = re.match(r"^  (--[a-z-]+)(?: \S+)?(?:\s{2,}(.*))?$", line)
        if head:
            current = head[1]
            found[current] = head[2] or ""
        elif current and line.startswith(" " * 10):
            found[current] = f"{found[current]} {line.strip()}".strip()
        else:
            current = ""
    return found


def test_help_shows_a_default_only_where_it_helps(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    options = _option_help(capsys.readouterr().out)
    assert {f.flag for f in SUITE_FLAGS if f.sweep} <= set(options)
    for flag, text in options.items():
        for unhelpful in ("(default: None)", "(default: [])", "(default: False)"):
            assert unhelpful not in text, flag
        assert text.lower().count("default") <= 1, f"{flag}: {text}"
    assert options["--recipe"].endswith("(default: quick)")
    assert options["--poll"].endswith("(default: 5.0)")
    assert options["--bench"] == "the suite's folder (default: bench)"
    assert options["--set"].endswith("(repeatable)")
    assert options["--partition"] == ""
    assert options["--yes"].endswith("without asking")

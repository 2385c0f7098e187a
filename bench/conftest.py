"""pytest glue for the ff-bench suite: options, parametrization, machine info, journal, summary.

    pytest bench/ --benchmark-save=NAME [--recipe quick] [--datasets mnist,fashion_mnist]
                  [--methods ff,bp] [--device auto] [--seeds 1] [--set FIELD=VALUE ...]
                  [--grid FIELD=V1/V2/... ...] [--shard K/N]

The measuring itself is in :mod:`ff_algos.suite` and :mod:`ff_algos.telemetry`; this file only
connects them to pytest and pytest-benchmark.
"""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console

from ff_algos.errors import FFBenchError
from ff_algos.suite.depth_scaling import configs as scaling_configs
from ff_algos.suite.flags import collect, register
from ff_algos.suite.floors import load_floors
from ff_algos.suite.grid import Point
from ff_algos.suite.matrix import case_matrix, shard_cases
from ff_algos.suite.options import SuiteOptions, parse_options, resolve_device
from ff_algos.suite.progress import Terminal
from ff_algos.suite.state import Suite
from ff_algos.suite.summary import summary_table
from ff_algos.sweep.record import shard_record
from ff_algos.telemetry import TelemetrySession
from ff_algos.telemetry import machine_info as ff_bench_machine_info

FLOORS_FILE = Path(__file__).with_name("floors.toml")  # --floors' default


SUITE = pytest.StashKey[Suite]()


def pytest_addoption(parser: pytest.Parser) -> None:
    register(parser.getgroup("ff-bench", "Forward-Forward vs backprop benchmark").addoption)


def pytest_configure(config: pytest.Config) -> None:
    try:
        options = parse_options(collect(config.getoption))
        floors = load_floors(options.floors or FLOORS_FILE)
        options.check_device(resolve_device(options.device))
    except FFBenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SUITE] = Suite(options, floors, session_id=uuid.uuid4().hex[:12])
    if options.shard is not None:  # a sweep's shard: a cancelled job still saves finished cases
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    options = metafunc.config.stash[SUITE].options
    if "scaling" in metafunc.fixturenames:
        _scaling_cases(metafunc, options)
    if "dataset" not in metafunc.fixturenames:
        return
    if not options.grid:
        cases = [pytest.param(c.dataset, c.method, c.seed, id=c.id) for c in shard_cases(options)]
        metafunc.parametrize(("dataset", "method", "seed"), cases)
        return
    gridded = [
        pytest.param(c.dataset, c.method, c.seed, dict(c.point), id=c.id)
        for c in shard_cases(options)
    ]
    metafunc.parametrize(("dataset", "method", "seed", "grid"), gridded)


def _scaling_cases(metafunc: pytest.Metafunc, options: SuiteOptions) -> None:
    """The scaling benchmark's configurations (not in sharded or gridded sessions)."""
    found = scaling_configs(options.recipe_name, options.methods)
    why = (
        "the scaling benchmark runs in sessions without --shard and --grid"
        if options.shard is not None or options.grid
        else None
        if found
        else "the scaling benchmark compares ff and bp; --methods names neither"
    )
    if why is not None:
        params = [pytest.param(None, id="scaling", marks=pytest.mark.skip(reason=why))]
    else:
        params = [pytest.param(c, id=f"{c.algorithm}-batch{c.batch}-depth{c.depth}") for c in found]
    metafunc.parametrize("scaling", params)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]
) -> None:
    suite = config.stash.get(SUITE, None)
    if suite is not None and suite.options.shard is not None:
        options = suite.options
        output_json["ff_bench_shard"] = shard_record(options, [c.id for c in case_matrix(options)])


def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    suite = config.stash.get(SUITE, None)
    device = None
    if suite is not None:
        try:
            device = resolve_device(suite.options.device)
        except FFBenchError:
            device = None  # the device fixture fails the cases with the reason
    machine_info["ff_bench"] = ff_bench_machine_info(device=device)


@pytest.fixture
def grid() -> dict[str, str]:
    """The case's grid point (``{field: value}``); parametrized when the session has a grid."""
    return {}


@pytest.fixture
def suite(request: pytest.FixtureRequest, grid: dict[str, str]) -> Suite:
    """The session's suite; with a grid, its options carry the case's grid point as overrides
    (the case list ``rows`` stays shared)."""
    session = request.config.stash[SUITE]
    if not grid:
        return session
    point: Point = tuple(grid.items())
    return dataclasses.replace(session, options=session.options.at(point))


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    try:
        return resolve_device(request.config.stash[SUITE].options.device)
    except FFBenchError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def telemetry(device: torch.device) -> Iterator[TelemetrySession]:
    with TelemetrySession(device) as session:
        session.peak_flops(torch.float32)  # measured once, before any case, out of the timings
        yield session


@pytest.fixture
def terminal(request: pytest.FixtureRequest) -> Terminal:
    """``with terminal() as console:`` suspends pytest's output capture for the block and gives
    a console on the real terminal (used inside the test body: capture resumes between phases)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    @contextmanager
    def on_terminal() -> Iterator[Console]:
        if capture is None:
            yield Console()
            return
        with capture.global_and_fixture_disabled():
            yield Console()

    return on_terminal


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    suite = config.stash.get(SUITE, None)
    if suite is None or not suite.rows:
        return
    buffer = io.StringIO()
    width = max(config.get_terminal_writer().fullwidth, 150)
    Console(file=buffer, force_terminal=terminalreporter.isatty, width=width).print(
        summary_table(suite.rows)
    )
    terminalreporter.write_sep("=", "ff-bench summary")
    terminalreporter.write(buffer.getvalue())
    terminalreporter.write_line(f"journal: {os.path.abspath(suite.options.journal)}")

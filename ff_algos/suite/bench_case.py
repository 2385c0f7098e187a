"""What one ``test_fit`` case does around the measurement: skip or fail on absent data, warm up,
time the run with ``benchmark.pedantic``, journal the outcome, and fail on out-of-memory, on a
one-line :class:`~ff_algos.errors.FFBenchError` or below the accuracy floor.

``bench/test_bench.py`` only declares the case and calls :func:`benchmark_case`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch

from ff_algos.data import is_present, resolve_root
from ff_algos.errors import FFBenchError
from ff_algos.record import CaseRecord
from ff_algos.suite.case import CaseSpec, case_peak, held_memory, run_case, warm_up
from ff_algos.suite.depth_scaling import ScalingConfig
from ff_algos.suite.floors import Floor
from ff_algos.suite.journal import append_record
from ff_algos.suite.oom import memory_report
from ff_algos.suite.progress import Terminal, progress_observer
from ff_algos.suite.state import Suite
from ff_algos.telemetry import TelemetrySession


def benchmark_case(
    benchmark: Any,
    suite: Suite,
    device: torch.device,
    telemetry: TelemetrySession,
    terminal: Terminal,
    case: tuple[str, str, int],
    nodeid: str,
) -> None:
    """Run the case ``(dataset, method, seed)`` under pytest-benchmark and record it."""
    dataset, method, seed = case
    options = suite.options
    root = resolve_root(options.data_root)
    if not is_present(dataset, root):
        reason = (
            f"{dataset} is not present under {root}; "
            f"fetch it with: ff-bench data fetch {dataset} --data-root {root}"
        )
        if options.datasets_explicit:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)

    spec = CaseSpec(
        dataset,
        options.recipe(method, seed),
        device,
        options.data_root,
        curve_points=options.curve_points,
        val_size=options.val_size,
        allow_unverified=options.allow_unverified,
    )
    floor = suite.floors.lookup(options.recipe_name, dataset, method, options.overridden)
    benchmark.group = dataset
    record: dict[str, Any] = {
        "session": suite.session_id,
        "nodeid": nodeid,
        "dataset": dataset,
        "method": method,
        "seed": spec.recipe.seed,
        "recipe_name": options.recipe_name,
    }
    try:
        with device_scope(device):
            result = _measure(
                benchmark, suite, spec, telemetry, terminal, floor, f"{dataset}/{method}/seed{seed}"
            )
    except torch.OutOfMemoryError as exc:
        report = memory_report(device)
        _journal(suite, record | {"status": "out_of_memory", "error": str(exc), **report})
        pytest.fail(f"out of device memory: {report['summary']}", pytrace=False)
    except FFBenchError as exc:
        _journal(suite, record | {"status": "error", "error": str(exc)})
        pytest.fail(str(exc), pytrace=False)

    info = result.to_extra_info()
    benchmark.extra_info.update(info)
    status = {True: "passed", False: "below_floor", None: "no_floor"}[result.accuracy.passed]
    _journal(suite, record | {"status": status, "extra_info": info})
    suite.rows.append(result)
    if result.accuracy.passed is False:
        pytest.fail(
            f"{dataset}/{method}: test accuracy {result.accuracy.test:.4f} is below the floor "
            f"{floor.value:.4f} ({suite.floors.path})",
            pytrace=False,
        )


@contextmanager
def device_scope(device: torch.device) -> Iterator[None]:
    """``device`` made CUDA's current device for the body (nothing off CUDA): every CUDA call
    that takes no device (streams, events, graph capture, ``empty_cache``) then acts on it, so
    ``--device cuda:N`` with N > 0 measures GPU N and nothing lands on GPU 0."""
    if device.type != "cuda":
        yield
        return
    with torch.cuda.device(device):
        yield


def _measure(
    benchmark: Any,
    suite: Suite,
    spec: CaseSpec,
    telemetry: TelemetrySession,
    terminal: Terminal,
    floor: Floor,
    label: str,
) -> CaseRecord:
    """The untimed preliminaries (peak FLOP/s, the counters' resolution, warm-up, held memory),
    then the timed run under ``benchmark.pedantic``."""
    case_peak(telemetry, spec)  # measured once per precision, before the timed run
    telemetry.counter_steps()  # once per session: how short an energy window may be
    warm_up(spec)
    held = held_memory(spec)  # untimed: the hooks run Python per saved tensor
    options = suite.options
    with terminal() as console:
        observer, bar = progress_observer(console, label)
        try:
            result: CaseRecord = benchmark.pedantic(
                run_case,
                args=(spec, telemetry, floor, observer, options.recipe_name, held),
                rounds=options.rounds,
                iterations=1,
                warmup_rounds=0,
            )
        finally:
            if bar is not None:
                bar.close()
    return result


def _journal(suite: Suite, record: dict[str, Any]) -> None:
    record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    append_record(suite.options.journal, record)


@contextmanager
def journal_scaling(suite: Suite, nodeid: str, config: ScalingConfig) -> Iterator[dict[str, Any]]:
    """Journal one scaling case when it ends: ``passed`` with the ``extra_info`` the body puts in
    the yielded record, ``out_of_memory`` or ``error`` (then re-raised)."""
    record: dict[str, Any] = {
        "session": suite.session_id,
        "nodeid": nodeid,
        "kind": "scaling",
        "config": dataclasses.asdict(config),
    }
    try:
        yield record
    except torch.OutOfMemoryError as exc:
        _journal(suite, record | {"status": "out_of_memory", "error": str(exc)})
        raise
    except Exception as exc:
        _journal(suite, record | {"status": "error", "error": str(exc)})
        raise
    _journal(suite, record | {"status": "passed"})

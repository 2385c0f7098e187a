"""One benchmark case: load a dataset, fit one method's recipe, evaluate, and measure all of it.

:func:`run_case` is what ``pytest bench/`` times with ``benchmark.pedantic``; it is plain Python so
a script can run a case without pytest. Its result is the saved-result ``extra_info`` laid out as
:mod:`ff_algos.schema` documents.
"""

from __future__ import annotations

import dataclasses
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ff_algos.data import load_dataset
from ff_algos.methods import accuracy, fit
from ff_algos.observe import FanOut, TrainObserver
from ff_algos.recipes import Recipe, recipe_dict
from ff_algos.schema import SCHEMA_VERSION
from ff_algos.suite.floors import Floor
from ff_algos.telemetry import TelemetrySession, telemetry_extra_info
from ff_algos.telemetry.machine import cpu_model


@dataclass(frozen=True)
class CaseSpec:
    """What one case runs."""

    dataset: str
    recipe: Recipe
    device: torch.device
    data_root: Path | None


def warm_up(spec: CaseSpec) -> None:
    """Run the case's code paths once on a few rows, untimed, so that one-off costs (kernel
    selection, allocator growth, lazy initialisation) stay out of the measured run."""
    data = load_dataset(spec.dataset, device=spec.device, root=spec.data_root)
    short = dataclasses.replace(spec.recipe, epochs=1, train_size=min(512, len(data.train)))
    result = fit(short, data)
    accuracy(result.model, result.train)


def run_case(
    spec: CaseSpec, session: TelemetrySession, floor: Floor, observer: TrainObserver
) -> dict[str, Any]:
    """Run and measure one case; returns its schema-conforming ``extra_info``."""
    clock = session.epoch_clock()
    with session.window("end_to_end") as e2e:
        with session.window("data") as w_data:
            data = load_dataset(spec.dataset, device=spec.device, root=spec.data_root)
        with session.window("train") as w_train:
            result = fit(spec.recipe, data, observer=FanOut([clock, observer]))
        with session.window("eval") as w_eval:
            train_acc = accuracy(result.model, result.train)
            test_acc = accuracy(result.model, data.test)
    peak = session.peak_flops(torch.float32)  # cached: measured before the first case
    info = data.info
    flops = spec.recipe.flops(len(result.train), info.input_size, info.num_classes)
    telemetry = telemetry_extra_info(
        {
            "data": w_data.result,
            "train": w_train.result,
            "eval": w_eval.result,
            "end_to_end": e2e.result,
        },
        clock.result(),
        flops,
        len(data.test),
        peak,
        test_accuracy=test_acc,
    )
    unavailable: dict[str, str] = telemetry.pop("unavailable")
    passed = floor.check(test_acc)
    if floor.value is None:
        unavailable["accuracy.floor"] = unavailable["accuracy.passed"] = floor.reason or ""
    return {
        "schema": SCHEMA_VERSION,
        "dataset": info.name,
        "method": spec.recipe.method,
        "recipe": recipe_dict(spec.recipe),
        "seed": spec.recipe.seed,
        "device": device_record(spec.device),
        "accuracy": {
            "train": train_acc,
            "test": test_acc,
            "floor": floor.value,
            "passed": passed,
        },
        **telemetry,
        "data": {
            "source": data.source,
            "train_rows": len(result.train),
            "test_rows": len(data.test),
            "load_seconds": data.load_seconds,
        },
        "losses_final": {phase: losses[-1] for phase, losses in result.losses.items() if losses},
        "options": dict(result.options),
        "unavailable": unavailable,
    }


def device_record(device: torch.device) -> dict[str, Any]:
    """Type, human-readable name and index of the device a case ran on."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return {"type": "cuda", "name": torch.cuda.get_device_name(index), "index": index}
    return {"type": device.type, "name": cpu_model() or platform.machine(), "index": None}

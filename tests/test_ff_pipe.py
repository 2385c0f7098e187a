"""``ff_pipe``: a layer pipeline over 2 gloo ranks computes bit for bit what serial training
computes; FF under data parallelism trains; its prediction runs pipelined; bad worlds are one-line
errors before any process starts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from ff_algos import registry
from ff_algos.data import dataset_info, load_dataset
from ff_algos.errors import RecipeError
from ff_algos.fitting import accuracy, fit
from ff_algos.methods.ff_pipe import TINY, PipeFFRecipe
from ff_algos.parallel import run as parallel_run
from ff_algos.parallel.errors import WorldError
from ff_algos.record import parallel_from
from ff_algos.telemetry import EpochClock
from tests.parallel_data import synthetic

TINY = dataclasses.replace(TINY, train_size=None)

MNIST = dataset_info("mnist")


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_two_rank_pipeline_is_bit_identical_to_serial_training() -> None:
    data = synthetic()
    recipe = dataclasses.replace(TINY, hidden=(20, 20, 20, 20), world=2)
    clock = EpochClock(torch.device("cpu"))
    piped = fit(recipe, data, observer=clock)
    serial = fit(dataclasses.replace(recipe, world=1, serial="none"), data)
    a, b = _state(piped.model), _state(serial.model)  # type: ignore[arg-type]
    assert a.keys() == b.keys()
    assert len(a) == 8
    assert all(torch.equal(a[k], b[k]) for k in a)  # bitwise, every layer
    assert not torch.equal(a["layers.0.weight"], _state(fit(dataclasses.replace(
        recipe, world=1, serial="none", seed=1), data).model)["layers.0.weight"])  # type: ignore[arg-type]  # fmt: skip
    section = piped.options["parallel"]
    assert section["weights_match_serial"] is True
    assert section["world"] == 2
    assert section["layers_per_rank"] == 2
    assert section["launcher"] == "elastic_launch/forkserver"
    assert section["backend"] == "gloo"
    ranks = section["ranks"]
    assert [r["layers"] for r in ranks] == [[1, 2], [3, 4]]
    # rank 0 sends each minibatch's activities (32 x 20 floats) and labels (32 int64) on
    per_epoch = (256 // 32) * (32 * 20 * 4 + 32 * 8)
    assert ranks[0]["bytes_sent_per_epoch"] == per_epoch == ranks[1]["bytes_received_per_epoch"]
    assert ranks[1]["bytes_sent_per_epoch"] == 0 == ranks[0]["bytes_received_per_epoch"]
    assert all(0 <= r["busy_seconds"] <= r["train_seconds"] for r in ranks)
    assert all(r["peak_memory_bytes"] > 0 and r["memory_kind"] == "host_rss" for r in ranks)
    assert section["pipelined_test_accuracy"] == accuracy(piped.model, data.test)
    assert section["speedup"] is not None
    assert section["efficiency"] == section["speedup"] / 2
    typed = parallel_from(section)
    assert typed is not None
    assert typed.world == 2
    assert clock.result().per_epoch["train"]
    assert len(clock.result().per_epoch["train"]) == 2
    assert set(piped.losses) == {"layer1", "layer2", "layer3", "layer4"}


@pytest.mark.real_data
def test_ff_under_data_parallelism_trains_on_two_ranks(
    real_data_root: Callable[[str], Path],
) -> None:
    data = load_dataset("mnist", device=torch.device("cpu"), root=real_data_root("mnist"))
    recipe = dataclasses.replace(TINY, strategy="ddp", world=2, epochs=4, train_size=512)
    result = fit(recipe, data)
    section = result.options["parallel"]
    assert section["strategy"] == "ddp"
    assert section["layers_per_rank"] is None
    assert section["weights_match_serial"] is None  # averaged gradients: equal up to rounding
    assert all(r["bytes_sent_per_epoch"] > 0 for r in section["ranks"])
    assert accuracy(result.model, data.test) > 0.2  # chance: 0.1
    first, last = result.losses["layer1"][0], result.losses["layer1"][-1]
    assert last < first


def test_serial_references_are_trained_once_per_recipe_and_threads() -> None:
    parallel_run.forget_serial_references()
    data = synthetic(128, 16)
    base = dataclasses.replace(TINY, world=1, epochs=1)
    fit(base, data)
    assert len(parallel_run._SERIAL) == 1
    fit(dataclasses.replace(base, strategy="ddp"), data)  # same serial work: reused
    assert len(parallel_run._SERIAL) == 1
    fit(dataclasses.replace(base, lr=1e-3), data)
    assert len(parallel_run._SERIAL) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"world": 3}, r"world=3 ranks but the network has 2 layers"),
        ({"hidden": (20, 20, 20), "world": 2}, r"3 layers do not split evenly over world=2"),
        ({"strategy": "ddp", "world": 3}, r"batch_size=32 is not a multiple of world=3"),
        ({"world": 0}, r"world=0 must be 1 or more"),
        ({"backend": "mpi"}, r"backend='mpi' is unknown; choose one of auto, gloo, nccl"),
        ({"precision": "bf16"}, r"precision='bf16' is not supported by ff_pipe .*fp32"),
    ],
)
def test_a_bad_world_is_a_one_line_error(changes: dict[str, Any], message: str) -> None:
    recipe = dataclasses.replace(TINY, **changes)
    with pytest.raises(RecipeError, match=message) as info:
        registry.get("ff_pipe").validate(recipe, MNIST)
    assert "\n" not in str(info.value)


def test_nccl_on_a_cpu_fails_before_any_process_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_launch(*args: object) -> None:
        raise AssertionError("a process was started")

    monkeypatch.setattr(parallel_run, "launch", no_launch)
    recipe: PipeFFRecipe = dataclasses.replace(TINY, backend="nccl", serial="none")
    with pytest.raises(WorldError, match=r"backend=nccl needs CUDA tensors but the device is cpu"):
        fit(recipe, synthetic(64, 8))

"""The backprop baselines on 2 gloo ranks (``ScheduleGPipe``, ``Schedule1F1B``, DDP) train the
same network on the same rows as their serial reference, and record their world."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from ff_algos import registry
from ff_algos.data import load_dataset
from ff_algos.data.catalog import dataset_info
from ff_algos.errors import RecipeError
from ff_algos.fitting import accuracy, fit
from ff_algos.methods.bp_parallel import TINY, Strategy


@pytest.mark.real_data
@pytest.mark.parametrize("strategy", ["gpipe", "1f1b", "ddp"])
def test_a_backprop_baseline_trains_on_two_ranks(
    strategy: Strategy, real_data_root: Callable[[str], Path]
) -> None:
    data = load_dataset("mnist", device=torch.device("cpu"), root=real_data_root("mnist"))
    result = fit(dataclasses.replace(TINY, strategy=strategy, world=2), data)
    section = result.options["parallel"]
    assert section["strategy"] == strategy
    assert section["world"] == 2
    assert section["backend"] == "gloo"
    assert section["weights_match_serial"] is None
    ranks = section["ranks"]
    if strategy == "ddp":
        assert section["schedule"] == "DDP"
        assert section["microbatches"] == 1
        assert all(r["layers"] == [1, 2, 3] for r in ranks)
    else:
        assert section["schedule"] == {"gpipe": "ScheduleGPipe", "1f1b": "Schedule1F1B"}[strategy]
        assert section["microbatches"] == 2
        assert section["layers_per_rank"] == 1
        assert [r["layers"] for r in ranks] == [[1], [2, 3]]  # the head with the last stage
        # 16 minibatches of 32: activities (32 x 20 floats) forward, their gradients back
        assert ranks[0]["bytes_sent_per_epoch"] == 16 * 32 * 20 * 4
    assert all(r["bytes_sent_per_epoch"] > 0 and r["busy_seconds"] > 0 for r in ranks)
    assert [s["threads"] for s in section["serial"]] == [1]
    losses = result.losses["train"]
    assert len(losses) == 2
    assert losses[-1] < losses[0]
    assert accuracy(result.model, data.test) > 0.4  # chance: 0.1


@pytest.mark.parametrize("precision", ["bf16", "tf32"])
def test_a_precision_the_ranks_do_not_run_is_refused(precision: str) -> None:
    recipe = dataclasses.replace(TINY, precision=precision)  # type: ignore[arg-type]
    with pytest.raises(RecipeError, match=rf"precision='{precision}' is not supported") as info:
        registry.get("bp_parallel").validate(recipe, dataset_info("mnist"))
    assert "\n" not in str(info.value)

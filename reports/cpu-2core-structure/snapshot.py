"""Fingerprint every built-in method's training, to show a refactor changed no behaviour.

For each method: its ``tiny`` recipe on real MNIST, CPU, one thread, trained through the
suite's own entry point; the per-epoch losses of every phase (exact float reprs), a sha256 of
every tensor in the model's state, and a sha256 of the labels that the model and each further
predictor give the first 2000 test rows. Also the ``quick`` recipes of ``ff`` and ``bp``: their
test accuracy on the whole test split. Two snapshots are bit-identical when their JSON is equal.

    OMP_NUM_THREADS=1 python reports/cpu-2core-structure/snapshot.py OUT.json
    python reports/cpu-2core-structure/snapshot.py --compare before.json after.json
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ff_algos import registry
from ff_algos.data import load_dataset

try:  # the layout after the structure change
    from ff_algos.fitting import accuracy, fit
except ImportError:  # the layout before it (c985d16)
    from ff_algos.methods import accuracy, fit  # type: ignore[no-redef]

METHODS = (
    "ff", "bp", "ff_head", "ff_finetune", "ff_strong",
    "ff_conv", "bp_conv", "ff_attn", "bp_attn", "ff_group",
)  # fmt: skip
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("ff", {"batch_size": None, "goodness": "sum", "negatives": "wrong_label"}),
    ("bp", {"input_pipeline": "dataloader"}),
    ("ff_conv", {"training": "together", "shift": 1}),
    ("bp_conv", {"shift": 1}),
)  # other code paths than the tiny recipes take


def _sha(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().contiguous().cpu().numpy().tobytes()).hexdigest()


def _state(model: Any) -> dict[str, str]:
    if isinstance(model, nn.Module):
        return {k: _sha(v) for k, v in model.state_dict().items()}
    found: dict[str, str] = {}
    for name, value in sorted(vars(model).items()):
        if isinstance(value, nn.Module):
            found.update({f"{name}.{k}": _sha(v) for k, v in value.state_dict().items()})
        elif isinstance(value, torch.Tensor):
            found[name] = _sha(value)
    return found


def snapshot() -> dict[str, Any]:
    torch.set_num_threads(1)
    data = load_dataset("mnist", device="cpu")
    probe = data.test.x[:2000]
    out: dict[str, Any] = {}
    for name in METHODS:
        recipe = registry.recipe(name, "tiny")
        result = fit(recipe, data)
        out[name] = {
            "losses": {k: [repr(v) for v in vs] for k, vs in result.losses.items()},
            "state": _state(result.model),
            "predict": _sha(result.model.predict(probe)),
            "predictors": {k: _sha(p.predict(probe)) for k, p in result.predictors.items()},
        }
        print(name, "done", flush=True)
    for name, changes in VARIANTS:
        recipe = dataclasses.replace(registry.recipe(name, "tiny"), **changes)
        result = fit(recipe, data)
        key = f"{name}:" + ",".join(f"{k}={v}" for k, v in changes.items())
        out[key] = {
            "losses": {k: [repr(v) for v in vs] for k, vs in result.losses.items()},
            "state": _state(result.model),
            "predict": _sha(result.model.predict(probe)),
        }
        print(key, "done", flush=True)
    for name in ("ff", "bp"):
        result = fit(registry.recipe(name, "quick"), data)
        out[f"{name}:quick"] = {"test_accuracy": accuracy(result.model, data.test)}
        print(name, "quick", out[f"{name}:quick"], flush=True)
    return out


def compare(before: Path, after: Path) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    bad = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    for key in sorted(set(a) | set(b)):
        print(f"{key:14s} {'identical' if key not in bad else 'DIFFERENT'}")
    print("bit-identical" if not bad else f"{len(bad)} differ: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    Path(sys.argv[1]).write_text(json.dumps(snapshot(), indent=1, sort_keys=True) + "\n")

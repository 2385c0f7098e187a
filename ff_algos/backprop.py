"""Backprop baseline of the reference study: an MLP ``in-500-500-C`` (ReLU, linear head), cross
entropy, Adam, mini-batches reshuffled every epoch.

Two input pipelines: ``"tensor"`` slices batches from device-resident tensors (no per-sample
work, no copies to the device); ``"dataloader"`` is the conventional
``torch.utils.data.DataLoader`` over a torchvision dataset with per-sample transforms (ToTensor,
Normalize, flatten), so that the input pipeline's share of an end-to-end time can be measured.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.compiled import EpochRunner
from ff_algos.data import LoadedDataset, Split, torchvision_dataset
from ff_algos.observe import NullObserver, TrainObserver
from ff_algos.precision import precision_scope, product_dtype
from ff_algos.recipes import BPRecipe, RecipeError
from ff_algos.training import LossLog, seeded_linear


class MLP(nn.Module):
    """Hidden ReLU layers and a linear head; :meth:`predict` returns the argmax class."""

    def __init__(
        self,
        input_size: int,
        hidden: tuple[int, ...],
        num_classes: int,
        generator: torch.Generator,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        predict_batch_size: int = 10000,
    ) -> None:
        super().__init__()
        dims = (input_size, *hidden, num_classes)
        self.layers = nn.ModuleList(
            [seeded_linear(i, o, generator, device, dtype) for i, o in itertools.pairwise(dims)]
        )
        self.predict_batch_size = max(1, predict_batch_size)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, C) for inputs (N, D)."""
        *hidden, head = self.layers
        for layer in hidden:
            x = torch.relu(layer(x))
        out: Tensor = head(x)
        return out

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """Predicted labels (N,) int64, computed in chunks of ``predict_batch_size`` rows."""
        parts = [
            self(x[s : s + self.predict_batch_size]).argmax(1)
            for s in range(0, x.shape[0], self.predict_batch_size)
        ]
        return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long, device=x.device)


@dataclass(frozen=True)
class BPTraining:
    """A trained MLP and its per-epoch mean training loss (phase ``"train"``)."""

    model: MLP
    losses: dict[str, list[float]]
    options: dict[str, object]


def validate_bp(recipe: BPRecipe) -> None:
    """Raise :class:`RecipeError` for a recipe that cannot run."""
    if min(recipe.hidden, default=1) < 1:
        raise RecipeError(f"hidden={recipe.hidden!r}: layer widths must be positive")
    if recipe.batch_size is not None and recipe.batch_size < 1:
        raise RecipeError("batch_size must be a positive integer or none (full batch)")
    if not recipe.lr > 0:
        raise RecipeError(f"lr={recipe.lr!r} must be positive")


def train_bp(
    recipe: BPRecipe,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    observer: TrainObserver | None = None,
    loader_epochs: Iterable[Iterable[tuple[Tensor, Tensor]]] | None = None,
) -> BPTraining:
    """Train the MLP on the rows ``x`` (N, D), ``y`` (N,), reshuffled every epoch on their device.

    With ``loader_epochs`` (the dataloader pipeline: one iterable of CPU batches per epoch) the
    batches come from there instead and are moved to the device here; that pipeline runs eagerly
    or with ``compile=inductor`` only.
    """
    validate_bp(recipe)
    device, dtype = x.device, x.dtype
    if loader_epochs is not None and recipe.compile == "cudagraphs":
        raise RecipeError(
            "compile=cudagraphs needs input_pipeline=tensor (a graph cannot read a DataLoader)"
        )
    obs: TrainObserver = observer if observer is not None else NullObserver()
    gen = torch.Generator().manual_seed(recipe.seed)
    model = MLP(
        x.shape[1], recipe.hidden, num_classes, gen, device, dtype, recipe.predict_batch_size
    )
    opt = torch.optim.Adam(
        model.parameters(),
        lr=recipe.lr,
        fused=device.type == "cuda" or None,
        capturable=recipe.compile == "cudagraphs",
    )
    low = product_dtype(recipe.precision)

    def loss_of(xb: Tensor, yb: Tensor) -> Tensor:
        with torch.autocast(device.type, dtype=low, enabled=low is not None, cache_enabled=False):
            return F.cross_entropy(model(xb), yb)

    forward = torch.compile(loss_of, dynamic=False) if recipe.compile == "inductor" else loss_of

    def step(xb: Tensor, yb: Tensor) -> Tensor:
        loss = forward(xb, yb)
        opt.zero_grad(set_to_none=recipe.compile != "cudagraphs")
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        return loss.detach() * xb.shape[0]

    n = x.shape[0]
    batch = min(n if recipe.batch_size is None else recipe.batch_size, n)

    def epoch(perm: Tensor | None) -> Tensor:
        assert perm is not None, "backprop epochs always have a row order"
        total = torch.zeros((), device=device, dtype=dtype)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            total += step(x[idx], y[idx])
        return total / n

    def loader_epoch(batches: Iterable[tuple[Tensor, Tensor]]) -> Tensor:
        total = torch.zeros((), device=device, dtype=dtype)
        rows = 0
        for xb, yb in batches:
            total += step(xb.to(device, non_blocking=True), yb.to(device, non_blocking=True))
            rows += xb.shape[0]
        return total / max(rows, 1)

    log = LossLog("train", recipe.epochs, recipe.lr, device)
    shuffle_gen = torch.Generator(device=device).manual_seed(recipe.seed + 1)
    loader = iter(loader_epochs) if loader_epochs is not None else None
    with precision_scope(recipe.precision, device):
        runner = EpochRunner(epoch, recipe.compile, list(model.parameters()), [opt], device)
        compile_seconds = 0.0 if loader else runner.prepare(torch.arange(n, device=device))
        obs.phase_start("train", recipe.epochs)
        every = recipe.nan_check_every
        for e in range(recipe.epochs):
            if loader is None:
                loss = runner(torch.randperm(n, generator=shuffle_gen, device=device))
            else:
                loss = loader_epoch(next(loader))
            log.record(e, loss)
            obs.epoch_end(e)
            if every > 0 and (e + 1) % every == 0:
                log.check(e + 1)
        log.check(recipe.epochs)
        obs.phase_end()
    options: dict[str, object] = {
        "compile": recipe.compile,
        "compiled": recipe.compile == "inductor",
        "cuda_graphs": recipe.compile == "cudagraphs",
        "compile_seconds": compile_seconds,
        "precision": recipe.precision,
        "product_dtype": str(low or dtype).removeprefix("torch."),
        "predict_dtype": str(dtype).removeprefix("torch."),
        "input_pipeline": recipe.input_pipeline,
        "fused_adam": device.type == "cuda",
    }
    return BPTraining(model=model, losses={"train": log.host()}, options=options)


class _Flatten:
    """Per-sample transform: a (C, H, W) image tensor to its channel-first flat vector."""

    def __call__(self, image: Tensor) -> Tensor:
        return image.reshape(-1)


def subset_rows(total: int, n: int | None, seed: int) -> Tensor | None:
    """Indices of the rows ``Split.subset(n, seed)`` keeps (sorted), or ``None`` for all."""
    if n is None or n >= total:
        return None
    generator = torch.Generator().manual_seed(seed)
    rows: Tensor = torch.randperm(total, generator=generator)[:n].sort().values
    return rows


def dataloader_epochs(recipe: BPRecipe, data: LoadedDataset, train: Split) -> Iterator[Any]:
    """The conventional pipeline: a ``DataLoader`` over torchvision's dataset of the same files
    (ToTensor, Normalize with the dataset's mean and std, flatten; per sample, on the CPU),
    restricted to the rows of ``train`` and reshuffled every epoch by a seeded generator."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import transforms

    info = data.info
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(info.mean, info.std), _Flatten()]
    )
    dataset = torchvision_dataset(info.name, data.root, train=True, transform=transform)
    rows = subset_rows(len(data.train), len(train), recipe.seed)
    if rows is not None:
        if not torch.equal(data.train.y[rows.to(data.train.y.device)], train.y):
            raise RuntimeError("subset_rows no longer matches Split.subset; keep them in step")
        dataset = Subset(dataset, rows.tolist())
    loader = DataLoader(
        dataset,
        batch_size=recipe.batch_size or len(train),
        shuffle=True,
        generator=torch.Generator().manual_seed(recipe.seed + 1),
        num_workers=recipe.loader_workers,
        persistent_workers=recipe.loader_workers > 0,
        pin_memory=train.x.device.type == "cuda",
    )
    return itertools.repeat(loader, recipe.epochs)

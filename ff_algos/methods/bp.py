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
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ff_algos.data import DatasetInfo, LoadedDataset, Split, torchvision_dataset
from ff_algos.errors import RecipeError
from ff_algos.method import Fitted, FlopCount, NullObserver, RecipeMethod, TrainObserver
from ff_algos.methods.common.checks import check_schedule
from ff_algos.methods.common.compiled import Compile, EpochRunner
from ff_algos.methods.common.layers import seeded_linear
from ff_algos.methods.common.loop import Epochs, run_epochs
from ff_algos.methods.common.precision import Precision, precision_scope, product_dtype

InputPipeline = Literal["tensor", "dataloader"]


@dataclass(frozen=True)
class BPRecipe:
    """Backprop: an MLP of the same hidden shape plus a linear head, cross entropy."""

    name: str = "seed"
    hidden: tuple[int, ...] = (500, 500)
    epochs: int = 20
    batch_size: int | None = 256  # None: full batch
    lr: float = 1e-3
    train_size: int | None = None
    seed: int = 0
    input_pipeline: InputPipeline = "tensor"  # "dataloader": torchvision dataset + DataLoader
    loader_workers: int = 0  # DataLoader worker processes (dataloader pipeline only)
    predict_batch_size: int = 10000
    nan_check_every: int = 5  # epochs between non-finite-loss checks (one host sync each)
    precision: Precision = "fp32"  # fp32 | tf32 (CUDA) | bf16 autocast, fp32 master weights
    compile: Compile = "none"  # none | inductor (torch.compile) | cudagraphs (CUDA)

    method: ClassVar[str] = "bp"

    def flops(self, n_train: int, info: DatasetInfo) -> FlopCount:
        """Model FLOPs: forward through hidden layers and head; backward computes weight gradients
        for every layer and input gradients for every layer but the first."""
        layers = list(itertools.pairwise((info.input_size, *self.hidden, info.num_classes)))
        per_row = sum(2 * i * o for i, o in layers)
        first = 2 * layers[0][0] * layers[0][1]
        forward = self.epochs * n_train * per_row
        backward = self.epochs * n_train * (2 * per_row - first)
        return FlopCount(forward=forward, backward=backward, predict=per_row, predict_samples=1)

    def executed_flops(self, n_train: int, info: DatasetInfo) -> dict[str, int]:
        """Training FLOPs executed: the plain algorithm's (nothing is skipped)."""
        return {"train": self.flops(n_train, info).train}


RECIPES: dict[str, BPRecipe] = {
    "seed": BPRecipe(name="seed"),
    "quick": BPRecipe(name="quick", epochs=3, train_size=10000),
    "tiny": BPRecipe(name="tiny", hidden=(64, 64), epochs=1, train_size=1024),
    # matched: the FLOPs of ff's matched recipe
    "matched": BPRecipe(name="matched", epochs=33, train_size=10000),
}


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
) -> Fitted[MLP]:
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

    shuffle_gen = torch.Generator(device=device).manual_seed(recipe.seed + 1)
    loader = iter(loader_epochs) if loader_epochs is not None else None

    def body(e: int) -> Tensor:
        if loader is None:
            return runner(torch.randperm(n, generator=shuffle_gen, device=device))
        return loader_epoch(next(loader))

    plan = Epochs("train", recipe.epochs, recipe.lr, "constant", recipe.nan_check_every)
    with precision_scope(recipe.precision, device):
        runner = EpochRunner(epoch, recipe.compile, list(model.parameters()), [opt], device)
        compile_seconds = 0.0 if loader else runner.prepare(torch.arange(n, device=device))
        losses, _ = run_epochs(plan, body, obs, lambda: model, device)
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
    if loader_epochs is not None:
        options["loader_workers"] = recipe.loader_workers
    return Fitted(model=model, losses=losses, options=options)


class _Flatten:
    """Per-sample transform: a (C, H, W) image tensor to its channel-first flat vector."""

    def __call__(self, image: Tensor) -> Tensor:
        return image.reshape(-1)


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
    if train.rows is not None:
        dataset = Subset(dataset, train.rows.tolist())
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


def check_bp(recipe: BPRecipe, info: DatasetInfo) -> None:
    """Raise :class:`RecipeError` (one line) for a recipe that cannot train on ``info``."""
    check_schedule("", recipe.epochs, recipe.lr, recipe.batch_size)
    validate_bp(recipe)


def fit_bp(recipe: BPRecipe, data: LoadedDataset, observer: TrainObserver) -> Fitted[MLP]:
    """Train on ``data.train`` through the recipe's input pipeline."""
    train = data.train
    loader = None
    if recipe.input_pipeline == "dataloader":
        loader = dataloader_epochs(recipe, data, train)
    return train_bp(recipe, train.x, train.y, data.info.num_classes, observer, loader)


METHOD = RecipeMethod(
    name="bp",
    description="backprop MLP of the same hidden shape plus a linear head (the baseline)",
    recipes=RECIPES,
    check=check_bp,
    train=fit_bp,
)

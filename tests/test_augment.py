"""Random shifts of flattened images against a plain reference: each row is its image moved by
one offset in [-shift, shift]², the border replicated."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ff_algos.methods.common.shift import translate


def moved_by_hand(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (C, H, W) moved by (dy, dx): output (i, j) reads input (i - dy, j - dx), clamped
    into the image (the border replicated)."""
    _, h, w = image.shape
    rows = (torch.arange(h) - dy).clamp(0, h - 1)
    cols = (torch.arange(w) - dx).clamp(0, w - 1)
    return image[:, rows][:, :, cols]


def test_every_row_is_its_image_moved_by_one_allowed_offset() -> None:
    shape = (2, 5, 4)
    x = torch.rand(40, 2 * 5 * 4, generator=torch.Generator().manual_seed(0))
    out = translate(x, shape, 2, torch.Generator().manual_seed(1))
    seen = set()
    for row, moved in zip(x, out, strict=True):
        image = row.view(shape)
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(moved.view(shape), moved_by_hand(image, dy, dx))
        ]
        assert matches, "a row is not a shifted copy of its image"
        seen.add(matches[0])
    assert len(seen) > 5  # offsets vary from row to row
    again = translate(x, shape, 2, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)


def test_a_zero_offset_keeps_the_image() -> None:
    x = torch.rand(3, 9)
    image = x[0].view(1, 3, 3)
    assert torch.equal(moved_by_hand(image, 0, 0), image)
    padded = F.pad(image[None], (1, 1, 1, 1), mode="replicate")[0]
    assert torch.equal(padded[:, 1:4, 1:4], image)

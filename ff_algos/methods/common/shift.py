"""Image augmentation on flattened rows: random shifts, the one augmentation the methods use
(``ff_strong``, ``ff_group``, ``ff_conv`` and ``bp_conv``: a ``shift`` recipe field)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def translate(
    x: Tensor, image_shape: tuple[int, int, int], shift: int, generator: torch.Generator
) -> Tensor:
    """Every row of ``x`` (N, C*H*W) as an image moved by its own random offset (dy, dx) in
    ``[-shift, shift]²``, the border replicated into the space it leaves (a data augmentation:
    the layers see a slightly different image of each digit every epoch)."""
    n = x.shape[0]
    c, h, w = image_shape
    padded = F.pad(x.view(n, c, h, w), (shift, shift, shift, shift), mode="replicate")
    # padded: (N, C, H + 2s, W + 2s); offsets index its top-left corner per row
    off = torch.randint(0, 2 * shift + 1, (2, n), generator=generator, device=x.device)
    rows = off[0, :, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = off[1, :, None] + torch.arange(w, device=x.device)  # (N, W)
    n_idx = torch.arange(n, device=x.device)[:, None, None, None]
    c_idx = torch.arange(c, device=x.device)[None, :, None, None]
    moved = padded[n_idx, c_idx, rows[:, None, :, None], cols[:, None, None, :]]  # (N, C, H, W)
    return moved.reshape(n, c * h * w)
